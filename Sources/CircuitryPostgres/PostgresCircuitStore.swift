#if Postgres

import Circuitry
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A store in a PostgreSQL database, for breakers whose processes run on more than one host.
///
/// Every read-modify-write is one short transaction on one pooled connection:
/// `BEGIN; SELECT … FOR UPDATE; UPDATE; COMMIT` (plus the history rows when the state changed). The row lock is held
/// for those round trips only, never across the user's work. Time comes from the server's clock
/// (`clock_timestamp()`), so hosts whose clocks disagree still agree on when a circuit opened and when it half-opens;
/// inject a ``WallClock`` only for tests.
///
/// The store owns a pool of connections (postgres-nio's `PostgresClient`) whose background work runs in ``run()``.
/// With swift-service-lifecycle, add the store to your `ServiceGroup`:
/// ```swift
/// let store = try PostgresCircuitStore(url: "postgres://jobs@db.internal/jobs?sslmode=require", logger: logger)
/// let breakers = try BreakerFactory(store: store, logger: logger)
/// let group = ServiceGroup(services: [store, worker], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
/// Without it, ``withStore(configuration:clock:logger:_:)`` runs the pool for the duration of a closure.
///
/// Operators read the tables with `psql`: `select * from circuit_status` and `select * from transition_log`.
///
/// Failures are ``CircuitStoreError``s: ``CircuitStoreError/Code/cannotOpen`` (server unreachable, unknown database,
/// authentication), ``CircuitStoreError/Code/connectionLost`` (the server went away mid-run; the pool reconnects on
/// its own when it returns), ``CircuitStoreError/Code/busy`` (``Configuration/operationTimeout`` elapsed, for
/// example behind another process's row lock), ``CircuitStoreError/Code/newerSchema`` and
/// ``CircuitStoreError/Code/foreignDatabase``. Their `location` is the server's URL without the password.
public final class PostgresCircuitStore: CircuitStore, Service {
    /// The settings the store was created with.
    public let configuration: Configuration
    private let client: PostgresClient
    private let clock: (any WallClock)?
    private let logger: Logger
    private let tables: PostgresSchema
    private let state = Mutex(State())

    private struct State {
        enum Lifecycle { case notStarted, running, finished }
        var lifecycle = Lifecycle.notStarted
        var schemaReady = false
        var hasConnected = false
        /// The last failure that meant the server could not be reached, cleared by the next success.
        var connectionFailure: CircuitStoreError?
    }

    /// A logger that drops everything, for postgres-nio's per-query logging of internal queries.
    static let silent = Logger(label: "circuitry.postgres.silent", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Creates a store for the server in `configuration`. Nothing is opened until ``run()`` runs and the first
    /// operation (or ``prepare()``) needs a connection.
    ///
    /// - Parameters:
    ///   - clock: Where "now" comes from. `nil` (the default) takes it from the server, so that every host agrees.
    ///   - logger: Receives the pool's background messages and the store's own (at info and below).
    /// - Throws: ``ConfigurationError`` for settings out of range.
    public init(configuration: Configuration, clock: (any WallClock)? = nil, logger: Logger) throws(ConfigurationError)
    {
        try configuration.validate()
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.tables = PostgresSchema(schema: configuration.schema, prefix: configuration.tablePrefix)
        self.client = PostgresClient(
            configuration: Self.clientConfiguration(configuration), backgroundLogger: logger)
    }

    /// Creates a store from a URL such as `postgres://user@host:5432/database?sslmode=require`
    /// (see ``Configuration/init(url:)``).
    public convenience init(url: String, clock: (any WallClock)? = nil, logger: Logger) throws(ConfigurationError) {
        try self.init(configuration: Configuration(url: url), clock: clock, logger: logger)
    }

    /// The server as a URL without the password.
    public var location: String { configuration.location }

    // MARK: Lifecycle

    /// Runs the connection pool until the task is cancelled or (in a `ServiceGroup`) a graceful shutdown begins.
    /// Operations fail with ``CircuitStoreError/Code/closed`` afterwards. Call it once.
    public func run() async throws {
        try await run(whenStarting: {})
    }

    /// ``run()``, calling `whenStarting` just before the pool starts.
    private func run(whenStarting: () -> Void) async throws {
        let first = state.withLock { state in
            guard state.lifecycle == .notStarted else { return false }
            state.lifecycle = .running
            return true
        }
        guard first else {
            throw CircuitStoreError(code: .closed, message: "run() was called more than once", location: location)
        }
        defer { state.withLock { $0.lifecycle = .finished } }
        whenStarting()
        await client.run()
    }

    /// Creates a store, runs its pool, checks (or creates) the tables, and hands the store to `body`; the pool stops
    /// when `body` returns or throws. For programs without swift-service-lifecycle.
    public static func withStore<Value: Sendable>(
        configuration: Configuration, clock: (any WallClock)? = nil, logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresCircuitStore) async throws -> Value
    ) async throws -> Value {
        let store = try PostgresCircuitStore(configuration: configuration, clock: clock, logger: logger)
        // The pool is started before the first lease: postgres-nio warns about a lease from a pool not yet running.
        let (starting, isStarting) = AsyncStream<Never>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self, isolation: isolation) { group in
            group.addTask {
                defer { isStarting.finish() }
                try await store.run(whenStarting: { isStarting.finish() })
            }
            defer { group.cancelAll() }
            for await _ in starting {}
            try await store.prepare()
            return try await body(store)
        }
    }

    /// Connects now and checks the tables, creating them if the database has none: to fail at start-up rather than
    /// on the first call. Operations do this on their own the first time.
    ///
    /// A server that cannot be reached, an unknown database or refused credentials fail within
    /// ``Configuration/connectTimeout``, with the cause: ``prepare()`` first opens one connection of its own, which
    /// the pool would instead retry until the operation's deadline.
    ///
    /// - Throws: ``CircuitStoreError`` with ``CircuitStoreError/Code/newerSchema`` for tables of a newer Circuitry,
    ///   ``CircuitStoreError/Code/foreignDatabase`` for a `circuits` table that is not Circuitry's, or a connection
    ///   failure (``CircuitStoreError/Code/cannotOpen``).
    public func prepare() async throws {
        try await checkServer()
        try await withConnection { _ in }
    }

    /// Opens one connection outside the pool and closes it again, within ``Configuration/connectTimeout``.
    ///
    /// The pool retries a connection that fails, with backoff, while the operation waits for it: an operation then
    /// fails only at its deadline, and without the cause. This connection fails at once with what went wrong
    /// (connection refused, no such host, unknown database, authentication failed, the connect timeout).
    private func checkServer() async throws {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: Self.connectionConfiguration(configuration), id: 0, logger: Self.silent)
        } catch {
            let storeError = PostgresErrorMapping.storeError(error, sql: nil, location: location)
            logger.debug(
                "PostgreSQL store cannot reach the server",
                metadata: ["circuitry.store": "\(location)", "circuitry.error": "\(storeError)"])
            throw storeError
        }
        try? await connection.close()
    }

    // MARK: CircuitStore

    public func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        let sql = """
            SELECT \(PostgresSchema.serverMilliseconds), c.* FROM (VALUES (1)) AS one (x)
            LEFT JOIN (SELECT \(PostgresRecordCoding.columns) FROM \(tables.circuits) WHERE name = $1) AS c ON true
            """
        var binds = PostgresBindings()
        binds.append(name)
        return try await withConnection { connection in
            let row = try await self.query(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection)[0]
            let columns = row.makeRandomAccess()
            let record = try self.decoding { try PostgresRecordCoding.record(columns, offset: 1) }
            let now = try self.clock?.now() ?? Timestamp(millisecondsSince1970: columns[0].decode(Int64.self))
            return (record, now)
        }
    }

    public func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value {
        try await withConnection { connection in
            // A circuit written for the first time by two processes at once: both find no row, and the second
            // INSERT finds the first one's row. It rolls back and runs again, now locking that row.
            for _ in 1...3 {
                if let value = try await self.updateOnce(name, body, on: connection) { return value }
            }
            throw CircuitStoreError(
                code: .busy,
                message: "the circuit \(name.debugDescription) was created and removed repeatedly "
                    + "while this process tried to write it", location: self.location)
        }
    }

    public func list() async throws -> (records: [CircuitRecord], now: Timestamp) {
        let sql = """
            SELECT \(PostgresSchema.serverMilliseconds), c.* FROM (VALUES (1)) AS one (x)
            LEFT JOIN (SELECT \(PostgresRecordCoding.columns) FROM \(tables.circuits)) AS c ON true
            ORDER BY c.name COLLATE "C"
            """
        return try await withConnection { connection in
            let rows = try await self.query(PostgresQuery(unsafeSQL: sql), on: connection).map {
                $0.makeRandomAccess()
            }
            let records = try self.decoding { try rows.compactMap { try PostgresRecordCoding.record($0, offset: 1) } }
            let now =
                try self.clock?.now()
                ?? Timestamp(millisecondsSince1970: self.decoding { try rows[0][0].decode(Int64.self) })
            return (records, now)
        }
    }

    public func remove(_ name: String) async throws -> Bool {
        var binds = PostgresBindings()
        binds.append(name)
        let sql = "DELETE FROM \(tables.circuits) WHERE name = $1 RETURNING 1"
        return try await withConnection { connection in
            try await !self.query(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection).isEmpty
        }
    }

    public func removeIdle(idleFor: Duration) async throws -> [String] {
        var binds = PostgresBindings()
        let cutoff: String
        if let clock {
            binds.append((clock.now() - idleFor).millisecondsSince1970)
            cutoff = "$1"
        } else {
            binds.append(idleFor.milliseconds)
            cutoff = "\(PostgresSchema.serverMilliseconds) - $1"
        }
        let sql = """
            DELETE FROM \(tables.circuits)
            WHERE state = 'closed' AND override IS NULL AND updated_at < \(cutoff) RETURNING name
            """
        return try await withConnection { connection in
            let rows = try await self.query(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection)
            return try self.decoding { try rows.map { try $0.makeRandomAccess()[0].decode(String.self) } }.sorted()
        }
    }

    public func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
        let select = "SELECT \(PostgresRecordCoding.transitionColumns) FROM \(tables.transitions)"
        var binds = PostgresBindings()
        binds.append(Int64(max(0, limit)))
        var conditions: [String] = []
        if let name {
            binds.append(name)
            conditions.append("circuit = $\(binds.count)")
        }
        if let afterID {
            binds.append(afterID)
            conditions.append("id > $\(binds.count)")
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql =
            afterID == nil
            ? "SELECT * FROM (\(select)\(filter) ORDER BY id DESC LIMIT $1) AS recent ORDER BY id"
            : "\(select)\(filter) ORDER BY id LIMIT $1"
        return try await withConnection { connection in
            let rows = try await self.query(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection)
            return try self.decoding { try rows.map { try PostgresRecordCoding.entry($0.makeRandomAccess()) } }
        }
    }

    // MARK: The transaction

    /// One attempt: the value, or `nil` if another process created the circuit's row first (nothing was written).
    private func updateOnce<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>,
        on connection: PostgresConnection
    ) async throws -> Value? {
        try await query("BEGIN", on: connection)
        do {
            // The lock is taken in the CTE; the time is read in the outer SELECT, after any wait for the lock, so
            // that a later commit never carries an earlier time.
            var binds = PostgresBindings()
            binds.append(name)
            let select = PostgresQuery(
                unsafeSQL: """
                    WITH locked AS (
                        SELECT \(PostgresRecordCoding.columns) FROM \(tables.circuits) WHERE name = $1 FOR UPDATE)
                    SELECT \(PostgresSchema.serverMilliseconds), locked.* FROM (VALUES (1)) AS one (x)
                    LEFT JOIN locked ON true
                    """, binds: binds)
            let columns = try await query(select, on: connection)[0].makeRandomAccess()
            let stored = try decoding { try PostgresRecordCoding.record(columns, offset: 1) }
            let now =
                try clock?.now() ?? Timestamp(millisecondsSince1970: decoding { try columns[0].decode(Int64.self) })

            var record = stored
            let result: StoreUpdate<Value>
            do {
                result = try body(&record, now)
            } catch {
                throw BodyError(error: error)
            }
            if result.write, var record {
                record.updatedAt = now
                let values = PostgresRecordCoding.bindings(record)
                if stored == nil {
                    let insert = PostgresQuery(
                        unsafeSQL: """
                            INSERT INTO \(tables.circuits) (\(PostgresRecordCoding.columns))
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                            ON CONFLICT (name) DO NOTHING RETURNING 1
                            """, binds: values)
                    guard try await !query(insert, on: connection).isEmpty else {
                        try await query("ROLLBACK", on: connection)
                        return nil
                    }
                } else {
                    let update = PostgresQuery(
                        unsafeSQL: """
                            UPDATE \(tables.circuits) SET state = $2, generation = $3, requests = $4, successes = $5,
                                failures = $6, consecutive_successes = $7, consecutive_failures = $8, expires_at = $9,
                                probes = $10, override = $11, override_until = $12, override_reason = $13,
                                open_attempts = $14, "window" = $15, updated_at = $16
                            WHERE name = $1
                            """, binds: values)
                    try await query(update, on: connection)
                }
            }
            if !result.transitions.isEmpty {
                try await appendHistory(result.transitions, on: connection)
            }
            try await query("COMMIT", on: connection)
            return result.value
        } catch {
            await rollBack(connection)
            throw error
        }
    }

    /// Appends transitions and prunes each circuit's history to ``Configuration/historyLimit``.
    ///
    /// History ids must increase in commit order (readers follow the history with `afterID`), but an identity column
    /// hands out ids when rows are inserted, not when they commit. A transaction-scoped advisory lock, taken before
    /// the ids are drawn and held until the commit, puts history writers in line. They are rare: only state changes
    /// write history.
    private func appendHistory(_ transitions: [CircuitTransition], on connection: PostgresConnection) async throws {
        try await query(
            "SELECT pg_advisory_xact_lock(\(PostgresSchema.advisoryLockClass), hashtext(\(tables.lockName + "history")))",
            on: connection)
        for transition in transitions {
            var binds = PostgresBindings()
            binds.append(transition.circuit)
            binds.append(transition.at.millisecondsSince1970)
            binds.append(transition.from.rawValue)
            binds.append(transition.to.rawValue)
            binds.append(transition.generation)
            binds.append(transition.reason)
            binds.append(transition.actor)
            try await query(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(tables.transitions) (circuit, at, from_state, to_state, generation, reason, actor)
                        VALUES ($1, $2, $3, $4, $5, $6, $7)
                        """, binds: binds), on: connection)
        }
        for circuit in Set(transitions.map(\.circuit)) {
            var binds = PostgresBindings()
            binds.append(circuit)
            binds.append(Int64(configuration.historyLimit))
            try await query(
                PostgresQuery(
                    unsafeSQL: """
                        DELETE FROM \(tables.transitions) WHERE circuit = $1 AND id <= (
                            SELECT id FROM \(tables.transitions) WHERE circuit = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)
                        """, binds: binds), on: connection)
        }
    }

    /// Ends a failed transaction. If even that fails, the connection is closed so that the pool never hands out a
    /// connection that is still inside a transaction.
    private func rollBack(_ connection: PostgresConnection) async {
        guard !connection.isClosed else { return }
        do {
            try await connection.query("ROLLBACK", logger: Self.silent)
        } catch {
            try? await connection.close()
        }
    }

    // MARK: Connections, deadlines and errors

    /// An error thrown by the body of ``update(_:_:)``: passed through to the caller as it is.
    private struct BodyError: Error {
        var error: any Error
    }

    /// Runs statements against the server and returns every row, turning failures into ``CircuitStoreError``.
    @discardableResult
    private func query(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRow] {
        // A query written to a connection that is already closed is never answered (postgres-nio drops it), so a
        // connection closed by a deadline gets no more queries.
        guard !connection.isClosed else {
            throw CircuitStoreError(
                code: .connectionLost, message: "the connection was closed", location: location, sql: query.sql)
        }
        do {
            return try await connection.query(query, logger: logger).collect()
        } catch {
            throw PostgresErrorMapping.storeError(error, sql: query.sql, location: location)
        }
    }

    private func decoding<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CircuitStoreError {
            throw error
        } catch {
            throw CircuitStoreError(code: .corrupt, message: "unreadable row: \(error)", location: location)
        }
    }

    /// Leases a connection, makes sure the tables are there, and runs `operation`, all within
    /// ``Configuration/operationTimeout``.
    ///
    /// At the deadline the lease request is cancelled or the connection closed, which ends whatever the operation
    /// was waiting for; the server then rolls its transaction back. If it committed after all, its result stands.
    private func withConnection<T: Sendable>(_ operation: (PostgresConnection) async throws -> T) async throws -> T {
        guard state.withLock({ $0.lifecycle }) != .finished else {
            throw CircuitStoreError(code: .closed, message: "the store's run() has ended", location: location)
        }
        do {
            if !state.withLock({ $0.schemaReady }) {
                // Start-up may wait behind another process that is creating the tables: a longer bound.
                try await withDeadline(timeout: startupTimeout) { connection in
                    try await self.prepareTablesIfNeeded(on: connection)
                }
            }
            let value = try await withDeadline(timeout: configuration.operationTimeout, operation)
            state.withLock { state in
                state.hasConnected = true
                state.connectionFailure = nil
            }
            return value
        } catch let error as BodyError {
            throw error.error
        } catch {
            let storeError = PostgresErrorMapping.storeError(error, sql: nil, location: location)
            if PostgresErrorMapping.isConnectionFailure(storeError) {
                state.withLock { $0.connectionFailure = storeError }
                logger.debug(
                    "PostgreSQL store cannot reach the server",
                    metadata: ["circuitry.store": "\(location)", "circuitry.error": "\(storeError)"])
            }
            throw storeError
        }
    }

    private enum Race<T: Sendable>: Sendable {
        case finished(T)
        case timedOut
    }

    private func withDeadline<T: Sendable>(
        timeout: Duration, _ operation: (PostgresConnection) async throws -> T
    ) async throws -> T {
        return try await withoutActuallyEscaping(operation) { operation in
            let box = UncheckedSendableBox(operation)
            let slot = ConnectionSlot()
            return try await withThrowingTaskGroup(of: Race<T>.self) { group in
                group.addTask {
                    do {
                        return .finished(
                            try await self.client.withConnection { connection in
                                slot.hold(connection)
                                defer { slot.release() }
                                return try await box.value(connection)
                            })
                    } catch  where !slot.wasLeased {
                        // The pool could not hand out a connection (for example, it gave up reconnecting).
                        throw PostgresErrorMapping.storeError(error, sql: nil, location: self.location)
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                }
                if case .finished(let value)? = try await group.next() {
                    group.cancelAll()
                    return value
                }
                if slot.wasLeased {
                    // The server enforces the same bound (statement_timeout, lock_timeout) and answers with an
                    // error the transaction can be rolled back on. Only a server that stopped answering altogether
                    // gets its connection closed, after a grace period.
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(500))
                        return .timedOut
                    }
                    if case .finished(let value)? = try await group.next() {
                        group.cancelAll()
                        return value
                    }
                }
                let wasLeased = slot.closeIfHeld()
                group.cancelAll()
                if case .finished(let value)?? = try? await group.next() { return value }
                throw timeoutError(after: timeout, wasLeased: wasLeased)
            }
        }
    }

    private func timeoutError(after timeout: Duration, wasLeased: Bool) -> CircuitStoreError {
        if wasLeased {
            return CircuitStoreError(
                code: .busy,
                message: "the operation did not finish within \(timeout): another process held the circuit's row lock, "
                    + "or the server stopped answering",
                location: location)
        }
        let (lifecycle, hasConnected, failure) = state.withLock {
            ($0.lifecycle, $0.hasConnected, $0.connectionFailure)
        }
        if lifecycle == .notStarted {
            return CircuitStoreError(
                code: .closed,
                message: "no connection within \(timeout): the store's run() is not running (add the store to a "
                    + "ServiceGroup, run it in a task, or use PostgresCircuitStore.withStore)",
                location: location)
        }
        if let failure {
            return CircuitStoreError(
                code: failure.code, message: "no connection within \(timeout); last failure: \(failure.message)",
                location: location)
        }
        // Operations hold a connection for a few round trips, so a pool that hands out none for a whole timeout
        // almost always means a server that cannot be reached (the pool's connection attempts keep failing).
        return CircuitStoreError(
            code: hasConnected ? .connectionLost : .cannotOpen,
            message: hasConnected
                ? "no connection within \(timeout): the server cannot be reached, or all "
                    + "\(configuration.maximumConnections) pooled connections stayed busy"
                : "could not reach the server within \(timeout)",
            location: location)
    }

    /// The bound on checking or creating the tables, which may wait for another process creating them.
    private var startupTimeout: Duration { max(configuration.operationTimeout, .seconds(10)) }

    private func prepareTablesIfNeeded(on connection: PostgresConnection) async throws {
        guard !state.withLock({ $0.schemaReady }) else { return }
        do {
            try await tables.prepare(
                on: connection, location: location, timeoutMilliseconds: startupTimeout.milliseconds, logger: logger)
        } catch {
            throw PostgresErrorMapping.storeError(error, sql: nil, location: location)
        }
        state.withLock { $0.schemaReady = true }
    }

    /// How the connections use TLS: off, preferred or required, and which checks the certificate gets.
    private static func tlsSettings(_ configuration: Configuration) -> (use: TLSUse, settings: TLSConfiguration) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let path = configuration.rootCertificatePath { tls.trustRoots = .file(path) }
        switch configuration.tls {
        case .disable:
            return (.disable, tls)
        case .prefer:
            tls.certificateVerification = .none
            return (.prefer, tls)
        case .require:
            tls.certificateVerification = .none
            return (.require, tls)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return (.require, tls)
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return (.require, tls)
        }
    }

    private enum TLSUse { case disable, prefer, require }

    /// The parameters every connection sends at start-up. The server enforces the operation's bound on its side: a
    /// statement or a row-lock wait that outlives the operation's deadline is cancelled there too, and a session left
    /// inside a transaction by a client that hung or vanished is ended, so that its row locks are released.
    private static func startupParameters(_ configuration: Configuration) -> [(String, String)] {
        let milliseconds = configuration.operationTimeout.milliseconds
        return [
            ("application_name", configuration.applicationName),
            ("statement_timeout", "\(milliseconds)"),
            ("lock_timeout", "\(milliseconds)"),
            ("idle_in_transaction_session_timeout", "\(max(5000, 4 * milliseconds))"),
        ]
    }

    /// The pool's settings for `configuration`. `package`, so that the benchmark's raw PostgreSQL floors connect
    /// exactly as the store does.
    package static func clientConfiguration(_ configuration: Configuration) -> PostgresClient.Configuration {
        let (use, settings) = tlsSettings(configuration)
        let mode: PostgresClient.Configuration.TLS =
            switch use {
            case .disable: .disable
            case .prefer: .prefer(settings)
            case .require: .require(settings)
            }
        var client = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: mode)
        client.options.maximumConnections = configuration.maximumConnections
        client.options.connectTimeout = configuration.connectTimeout
        client.options.additionalStartupParameters = startupParameters(configuration)
        return client
    }

    /// The configuration of a connection outside the pool, with the same server, TLS and start-up parameters as the
    /// pool's connections.
    private static func connectionConfiguration(_ configuration: Configuration) throws
        -> PostgresConnection.Configuration
    {
        let (use, settings) = tlsSettings(configuration)
        let mode: PostgresConnection.Configuration.TLS =
            switch use {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: settings))
            case .require: .require(try NIOSSLContext(configuration: settings))
            }
        var connection = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: mode)
        connection.options.connectTimeout = .milliseconds(configuration.connectTimeout.milliseconds)
        connection.options.additionalStartupParameters = startupParameters(configuration)
        return connection
    }
}

/// `@unchecked Sendable`: wraps the non-escaping operation of ``PostgresCircuitStore`` made escapable with
/// `withoutActuallyEscaping`; the task group that calls it ends before that scope does, and only one task calls it.
private struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The connection an operation holds, so that its deadline can close it.
private final class ConnectionSlot: Sendable {
    private let state = Mutex<(connection: PostgresConnection?, leased: Bool)>((nil, false))

    var wasLeased: Bool { state.withLock { $0.leased } }

    func hold(_ connection: PostgresConnection) {
        state.withLock { $0 = (connection, true) }
    }

    func release() {
        state.withLock { $0.connection = nil }
    }

    /// Closes the held connection, if any; returns whether a connection had been leased.
    func closeIfHeld() -> Bool {
        let (connection, leased) = state.withLock { ($0.connection, $0.leased) }
        // Closing the channel fails the query in flight at once; the pool then drops the connection.
        _ = connection?.close() as EventLoopFuture<Void>?
        return leased
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

#endif
