#if Redis
/// The Lua scripts that write. A script runs atomically on the server: nothing else runs in between its commands.
///
/// They are loaded once per store (`SCRIPT LOAD`, with the layout check) and run by their SHA-1 (`EVALSHA`); a
/// server that has forgotten them (restarted, `SCRIPT FLUSH`) answers `NOSCRIPT`, and the store sends the source
/// (`EVAL`), which loads it again. Numbers are formatted with `%d`: Lua 5.1's own conversion of a number to text
/// switches to exponent notation past 14 digits.
enum RedisScripts {
    /// Writes a circuit's record and appends its transitions, if the record's version is still the one read and no
    /// older update has the circuit's turn.
    ///
    /// KEYS: the circuit's hash, its history list, the circuits index, the log, the sequence, the versions counter,
    /// the circuit's turn. ARGV: the version read (empty: there was no record), the history limit, `1` to write the
    /// record, the name, `updated_at`, this update's claim on the turn (`<started ms> <random token>`, or empty for
    /// an update that does not claim it yet), how long a turn lasts (ms), the number of hash fields and values that
    /// follow, those, then one JSON payload per transition.
    ///
    /// Returns 1 when written; otherwise nothing was written and the reply says what to do: 0, an older update has
    /// the turn (wait a little, read again); -1, the record changed since it was read (read again; with a claim,
    /// this update now has the turn, and only an older update can write before its next attempt).
    ///
    /// The turn makes retries fair: plain optimistic retries let an unlucky update lose again and again to newer
    /// ones. An update that has lost a few times claims the turn; the oldest claim holds it, so that update wins
    /// its next attempt, and an update becomes the oldest after at most as many turns as there were claims older
    /// than it. Updates without a claim wait while a turn stands. A turn expires on its own (`PX`), so a process
    /// that dies holding one delays the circuit's writers by that long at most.
    static let commit = """
        local claim = redis.call('GET', KEYS[7])
        local mine = ARGV[6]
        local function older(a, b)
            local at, ak = string.match(a, '^(%d+) (.*)$')
            local bt, bk = string.match(b, '^(%d+) (.*)$')
            if not at or not bt then return false end
            at, bt = tonumber(at), tonumber(bt)
            return at < bt or (at == bt and ak < bk)
        end
        if claim and claim ~= mine and (mine == '' or older(claim, mine)) then return 0 end
        local current = redis.call('HGET', KEYS[1], 'version')
        if (current or '') ~= ARGV[1] then
            if mine ~= '' then redis.call('SET', KEYS[7], mine, 'PX', ARGV[7]) end
            return -1
        end
        if claim == mine then redis.call('DEL', KEYS[7]) end
        local count = tonumber(ARGV[8])
        if ARGV[3] == '1' then
            local version = string.format('%d', redis.call('INCR', KEYS[6]))
            redis.call('DEL', KEYS[1])
            redis.call('HSET', KEYS[1], 'version', version, unpack(ARGV, 9, 8 + count))
            redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
        end
        if 9 + count <= #ARGV then
            for index = 9 + count, #ARGV do
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
