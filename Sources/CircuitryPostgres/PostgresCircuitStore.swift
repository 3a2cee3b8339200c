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
/// inject a `WallClock` only for tests.
///
/// The store owns a pool of connections (postgres-nio's `PostgresClient`) whose background work runs in ``run()``.
/// With swift-service-lifecycle, add the store to your `ServiceGroup`:
/// ```swift
/// let store = try PostgresCircuitStore(
///     url: "postgres://jobs:secret@db.internal:5432/jobs?sslmode=verify-full", logger: logger)
/// let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)
///
/// // The store owns a connection pool whose background work runs in the store's run():
/// let group = ServiceGroup(services: [store, worker], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
/// Without it, ``withStore(configuration:clock:logger:isolation:_:)`` runs the pool for the duration of a closure.
///
/// Operators read the tables with `psql`: `select * from circuit_status` and `select * from transition_log`.
///
/// Failures are `CircuitStoreError`s: `CircuitStoreError.Code.cannotOpen` (server unreachable, unknown database,
/// authentication), `CircuitStoreError.Code.connectionLost` (the server went away mid-run; the pool reconnects on
/// its own when it returns), `CircuitStoreError.Code.busy` (``Configuration/operationTimeout`` elapsed, for
/// example behind another process's row lock), `CircuitStoreError.Code.newerSchema` and
/// `CircuitStoreError.Code.foreignDatabase`. Their `location` is the server's URL without the password.
public final class PostgresCircuitStore: CircuitStore, Service {
    /// The settings the store was created with.
    public let configuration: Configuration

    /// How many transitions of each circuit the history keeps (``Configuration/historyLimit``).
    public var historyLimit: Int { configuration.historyLimit }
    let client: PostgresClient
    let clock: (any WallClock)?
    let logger: Logger
    let tables: PostgresSchema
    let state = Mutex(State())

    struct State {
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
    ///   - configuration: The server, the credentials, the schema, the pool and the timeouts.
    ///   - clock: Where "now" comes from. `nil` (the default) takes it from the server, so that every host agrees.
    ///   - logger: Receives the pool's background messages and the store's own (at info and below).
    /// - Throws: `ConfigurationError` for settings out of range.
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
    /// Operations fail with `CircuitStoreError.Code.closed` afterwards. Call it once.
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
    /// the pool would instead retry until the operation's deadline. Once the server has answered, the pool's first
    /// connection and the check of the tables may take up to 10 s (or ``Configuration/operationTimeout`` if longer):
    /// on a loaded host, behind other processes creating the tables at once. So a program that calls ``prepare()``
    /// (as ``withStore(configuration:clock:logger:isolation:_:)`` does) starts with a connection ready.
    ///
    /// - Throws: `CircuitStoreError` with `CircuitStoreError.Code.newerSchema` for tables of a newer Circuitry,
    ///   `CircuitStoreError.Code.foreignDatabase` for a `circuits` table that is not Circuitry's, or a connection
    ///   failure (`CircuitStoreError.Code.cannotOpen`).
    public func prepare() async throws {
        try await checkServer()
        // The server has just been reached: the pool's first connection may take as long as the tables' check.
        try await withConnection(timeout: startupTimeout) { _ in }
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
}

#endif
