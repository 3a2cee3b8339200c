#if Redis
import Circuitry
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A store on a Redis server (6.2 or later, or Valkey), for breakers whose processes run on more than one host.
///
/// **Updates are optimistic.** An update reads the circuit's hash and the server's time in one round trip, runs the
/// breaker's rules in this process, and writes with a Lua script that first checks that the record's `version` is
/// still the one read; if another process wrote in between, nothing is written and the update reads and runs again,
/// after a random wait, at most ``Configuration/maximumUpdateAttempts`` times and within
/// ``Configuration/operationTimeout``. Nothing is held while the rules run, nor ever across the user's work. An
/// update that writes nothing (most admissions) costs the one read. This process's updates of one circuit wait in
/// line for each other, so only other processes' writes cause retries; ``conflicts`` counts them. So that an
/// unlucky update cannot lose to newer ones again and again, one that has lost four times claims the circuit's
/// *turn* (a key that expires after 100 ms): the oldest claim wins the next write, and newer updates wait.
///
/// `WATCH`/`MULTI`/`EXEC` would give the same check at about the same cost to the server (measured by
/// `INFO commandstats` beside `make bench-redis`: 3.3 µs per write against the script's 4.1 µs, both far below a
/// round trip, with the same retries), but `WATCH` belongs to a connection, so each update would need a connection
/// of its own for its two round trips; the script runs on the shared, pipelined connections and also hands out the
/// history ids, which a `MULTI` block could not use in the same write.
///
/// **Time comes from the server** (`TIME`, pipelined with the read), so that hosts whose clocks disagree agree on when
/// a circuit opened and when it half-opens; inject a `WallClock` only for tests.
///
/// **Keys** all carry the hash tag `{prefix}` (see ``Configuration/keyPrefix``): one store lives in one hash slot, so
/// every script touches one slot, as Redis Cluster requires, and the history's ids, the index of circuits and the
/// records change together. This client connects to one node and does not follow Cluster redirections (`MOVED`):
/// on a cluster, point the URL at the node that serves the slot (`CLUSTER KEYSLOT '{circuitry}'`). Listing reads the
/// index (`ZRANGE`), never `KEYS` or `SCAN`. Operators read a circuit with
/// `redis-cli HGETALL '{circuitry}:circuit:send-email/t1'`.
///
/// **Connections** are few (``Configuration/maximumConnections``) and shared by every task of the process:
/// requests are pipelined and answered in order. The client is this module's own, small RESP2 client over SwiftNIO,
/// with only what the store needs; if RediStack or valkey-swift become available to this package, valkey-swift
/// (pipelining, Cluster routing, RESP3) is the one to swap in under the same store.
///
/// Failures are `CircuitStoreError`s whose `location` is the URL without the password:
/// `CircuitStoreError.Code.cannotOpen` (server unreachable, `AUTH` refused, no such database),
/// `CircuitStoreError.Code.connectionLost` (the server went away; the next operation reconnects),
/// `CircuitStoreError.Code.busy` (no answer within ``Configuration/operationTimeout``, or the circuit changed
/// under every attempt), `CircuitStoreError.Code.foreignDatabase` (a key of the prefix holds something else),
/// `CircuitStoreError.Code.newerSchema`, `CircuitStoreError.Code.readOnly` (a replica) and
/// `CircuitStoreError.Code.full` (`maxmemory`).
public final class RedisCircuitStore: CircuitStore {
    /// The settings the store was created with.
    public let configuration: Configuration

    /// How many transitions of each circuit the history keeps (``Configuration/historyLimit``).
    public var historyLimit: Int { configuration.historyLimit }
    let pool: RedisConnectionPool
    let keys: RedisKeys
    let clock: (any WallClock)?
    let logger: Logger
    let gate = CircuitGate()
    let state = Mutex(State())

    struct State {
        var closed = false
        var prepared = false
        var hasConnected = false
        var commitSHA: String?
        var pruneSHA: String?
        var conflicts: UInt64 = 0
        var conflictWait: Duration = .zero
        var mostAttempts = 0
    }

    /// Creates a store for the server in `configuration`. Nothing is opened until the first operation (or
    /// ``prepare()``).
    ///
    /// - Parameters:
    ///   - configuration: The server, the credentials, the key prefix, the connections and the timeouts.
    ///   - clock: Where "now" comes from. `nil` (the default) takes it from the server, so that every host agrees.
    ///   - logger: Receives the store's messages about the connection (at debug).
    /// - Throws: `ConfigurationError` for settings out of range, or a TLS setting that cannot be used (an
    ///   unreadable `ssl_ca_certs` file).
    public init(configuration: Configuration, clock: (any WallClock)? = nil, logger: Logger)
        throws(ConfigurationError)
    {
        try configuration.validate()
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.keys = RedisKeys(prefix: configuration.keyPrefix)
        self.pool = RedisConnectionPool(
            endpoint: try Self.endpoint(configuration), size: configuration.maximumConnections)
    }

    /// Creates a store from a URL such as `redis://jobs:secret@cache.internal:6379/0?prefix=jobs`
    /// (see ``Configuration/init(url:)``).
    public convenience init(url: String, clock: (any WallClock)? = nil, logger: Logger) throws(ConfigurationError) {
        try self.init(configuration: Configuration(url: url), clock: clock, logger: logger)
    }

    /// The server as a URL without the password.
    public var location: String { configuration.location }

    /// How many updates found the circuit changed by another process between their read and their write, and how
    /// long they waited before trying again; `mostAttempts` is the most attempts one update took.
    public var conflicts: (count: UInt64, waited: Duration, mostAttempts: Int) {
        state.withLock { ($0.conflicts, $0.conflictWait, $0.mostAttempts) }
    }

    /// Connects now and checks the layout of the prefix's keys (marking it as Circuitry's if the server has none):
    /// to fail at start-up rather than on the first call. Operations do this on their own the first time.
    ///
    /// - Throws: `CircuitStoreError`: `CircuitStoreError.Code.cannotOpen` if the server cannot be reached or
    ///   refuses the credentials, `CircuitStoreError.Code.newerSchema` for keys of a newer Circuitry,
    ///   `CircuitStoreError.Code.foreignDatabase` if the prefix's keys are not Circuitry's.
    public func prepare() async throws {
        try await operation { _ in }
    }

    /// Closes the connections. Later operations fail with `CircuitStoreError.Code.closed`. A store released without
    /// it closes its connections when it goes away, without waiting.
    public func close() async {
        state.withLock { $0.closed = true }
        await pool.close()
    }

    deinit {
        pool.startClosing()
    }

    /// Creates a store, checks the server, hands the store to `body` and closes it when `body` returns or throws.
    public static func withStore<Value: Sendable>(
        configuration: Configuration, clock: (any WallClock)? = nil, logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RedisCircuitStore) async throws -> Value
    ) async throws -> Value {
        let store = try RedisCircuitStore(configuration: configuration, clock: clock, logger: logger)
        do {
            try await store.prepare()
            let value = try await body(store)
            await store.close()
            return value
        } catch {
            await store.close()
            throw error
        }
    }

    // MARK: CircuitStore

    public func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        try await operation { deadline in
            let read = try await self.readWithVersion(name, by: deadline)
            return (read.record, read.now)
        }
    }

    public func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value {
        try await operation { deadline in
            try await self.gate.withTurn(for: name, deadline: deadline) {
                try await self.optimisticUpdate(name, body, by: deadline)
            }
        }
    }

    public func list() async throws -> (records: [CircuitRecord], now: Timestamp) {
        try await operation { deadline in
            let (index, now) = try await self.send([["ZRANGE", self.keys.circuits, "0", "-1"]], by: deadline)
            guard let names = index[0].elements?.compactMap(\.string) else {
                throw RedisErrorMapping.unexpected(index[0], command: "ZRANGE")
            }
            guard !names.isEmpty else { return ([], now) }
            // Each record read on its own (pipelined): a record removed in between is skipped.
            let replies = try await self.send(names.map { ["HGETALL", self.keys.circuit($0)] }, by: deadline).replies
            var records: [CircuitRecord] = []
            for reply in replies {
                try RedisErrorMapping.check(reply, command: "HGETALL")
                if let record = try RedisRecordCoding.record(reply)?.record { records.append(record) }
            }
            // By bytes, as the SQL stores order names (`COLLATE "C"`, SQLite's BINARY).
            records.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            return (records, now)
        }
    }

    public func remove(_ name: String) async throws -> Bool {
        try await operation { deadline in
            let replies = try await self.send(
                [["MULTI"], ["DEL", self.keys.circuit(name)], ["ZREM", self.keys.circuits, name], ["EXEC"]],
                by: deadline, withTime: false
            ).replies
            for reply in replies { try RedisErrorMapping.check(reply, command: "MULTI") }
            guard let results = replies[3].elements, let deleted = results.first?.integer else {
                throw RedisErrorMapping.unexpected(replies[3], command: "EXEC")
            }
            return deleted > 0
        }
    }

    public func removeIdle(idleFor: Duration) async throws -> [String] {
        try await operation { deadline in
            let cutoff = (try await self.send([], by: deadline).now - idleFor).millisecondsSince1970
            // Candidates by the index's score (updated_at); the script checks each record again, atomically.
            let candidates = try await self.send(
                [["ZRANGEBYSCORE", self.keys.circuits, "-inf", "(\(cutoff)"]], by: deadline, withTime: false
            ).replies[0]
            guard let names = candidates.elements?.compactMap(\.string) else {
                throw RedisErrorMapping.unexpected(candidates, command: "ZRANGEBYSCORE")
            }
            guard !names.isEmpty else { return [] }
            let reply = try await self.runScript(
                .prune, keys: [self.keys.circuits] + names.map(self.keys.circuit),
                arguments: [String(cutoff)] + names, by: deadline)
            guard let removed = reply.elements?.compactMap(\.string) else {
                throw RedisErrorMapping.unexpected(reply, command: "EVALSHA")
            }
            return removed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }

    public func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
        guard limit > 0 else { return [] }
        return try await operation { deadline in
            guard let name else {
                let command =
                    afterID.map { ["ZRANGEBYSCORE", self.keys.log, "(\($0)", "+inf", "LIMIT", "0", String(limit)] }
                    ?? ["ZREVRANGEBYSCORE", self.keys.log, "+inf", "-inf", "LIMIT", "0", String(limit)]
                let reply = try await self.send([command], by: deadline, withTime: false).replies[0]
                guard let entries = reply.elements else {
                    throw RedisErrorMapping.unexpected(reply, command: command[0])
                }
                let decoded = try entries.map(RedisRecordCoding.entry)
                return afterID == nil ? decoded.reversed() : decoded
            }
            // A circuit's list holds at most historyLimit entries: read it whole.
            let reply = try await self.send(
                [["LRANGE", self.keys.history(name), "0", "-1"]], by: deadline, withTime: false
            )
            .replies[0]
            guard let entries = reply.elements else { throw RedisErrorMapping.unexpected(reply, command: "LRANGE") }
            let matching = try entries.map(RedisRecordCoding.entry).filter { $0.id > (afterID ?? 0) }
            return Array(afterID == nil ? matching.suffix(limit) : matching.prefix(limit))
        }
    }
}
#endif
