#if Redis
    /// The Lua scripts that write. A script runs atomically on the server: nothing else runs in between its commands.
    ///
    /// They are loaded once per store (`SCRIPT LOAD`, with the layout check) and run by their SHA-1 (`EVALSHA`); a
    /// server that has forgotten them (restarted, `SCRIPT FLUSH`) answers `NOSCRIPT`, and the store sends the source
    /// (`EVAL`), which loads it again. Numbers are formatted with `%d`: Lua 5.1's own conversion of a number to text
    /// switches to exponent notation past 14 digits.
    enum RedisScripts {
        /// Writes a circuit's record and appends its transitions, if the record's version is still the one read.
        ///
        /// KEYS: the circuit's hash, its history list, the circuits index, the log, the sequence, the versions counter.
        /// ARGV: the version read (empty: there was no record), the history limit, `1` to write the record, the name,
        /// `updated_at`, the number of hash fields and values that follow, those, then one JSON payload per transition.
        ///
        /// Returns 1, or `false` (a null reply) if the version changed: nothing was written, and the caller reads again.
        static let commit = """
            local current = redis.call('HGET', KEYS[1], 'version')
            if (current or '') ~= ARGV[1] then return false end
            local count = tonumber(ARGV[6])
            if ARGV[3] == '1' then
                local version = string.format('%d', redis.call('INCR', KEYS[6]))
                redis.call('DEL', KEYS[1])
                redis.call('HSET', KEYS[1], 'version', version, unpack(ARGV, 7, 6 + count))
                redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
            end
            if 7 + count <= #ARGV then
                for index = 7 + count, #ARGV do
                    local id = redis.call('INCR', KEYS[5])
                    local entry = string.format('%d ', id) .. ARGV[index]
                    redis.call('RPUSH', KEYS[2], entry)
                    redis.call('ZADD', KEYS[4], string.format('%d', id), entry)
                end
                local excess = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[2])
                if excess > 0 then
                    redis.call('ZREM', KEYS[4], unpack(redis.call('LPOP', KEYS[2], excess)))
                end
            end
            return 1
            """

        /// Removes, of the candidates, the circuits that are still closed, without an override and last written before
        /// the cutoff; drops index entries whose record is gone.
        ///
        /// KEYS: the circuits index, then each candidate's hash. ARGV: the cutoff, then each candidate's name.
        /// Returns the names removed.
        static let prune = """
            local removed = {}
            local cutoff = tonumber(ARGV[1])
            for index = 2, #KEYS do
                local fields = redis.call('HMGET', KEYS[index], 'state', 'override', 'updated_at')
                if not fields[1] then
                    redis.call('ZREM', KEYS[1], ARGV[index])
                elseif fields[1] == 'closed' and not fields[2] and (tonumber(fields[3]) or cutoff) < cutoff then
                    redis.call('DEL', KEYS[index])
                    redis.call('ZREM', KEYS[1], ARGV[index])
                    removed[#removed + 1] = ARGV[index]
                end
            end
            return removed
            """
    }
#endif
