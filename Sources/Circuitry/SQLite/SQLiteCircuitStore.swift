import CoreMetrics
import Foundation
import Synchronization

/// The default store: one SQLite file in WAL mode that the processes of one host share.
///
/// Each process opens one store per file and keeps it for its lifetime: one connection, statements prepared
/// once. Every read-modify-write is a `BEGIN IMMEDIATE` transaction, which is the cross-process lock; it is held
/// for microseconds, never across the user's work. Reads that decide without writing (a closed circuit admitting,
/// an open one rejecting) are plain `SELECT`s.
///
/// Operators can read the file with the `sqlite3` shell:
/// ```
/// sqlite3 breakers.sqlite 'select name, state, failures, expires_at from circuit_status'
/// ```
///
/// Opening refuses, with a ``CircuitStoreError`` and without writing to the file: a directory, a missing folder,
/// a file that is not a database, a damaged database, a database of another application, a database written by a
/// newer Circuitry, and a location that cannot be written.
public final class SQLiteCircuitStore: CircuitStore {
    /// How the store behaves. The defaults suit a job queue on one host.
    public struct Configuration: Sendable {
        /// The longest a call waits in total for another process's write lock before failing with
        /// ``CircuitStoreError/Code/busy``. Default 1 s; from 0 to 1 hour.
        public var busyTimeout: Duration
        /// How many transitions of each circuit the history keeps. Default 100.
        public var historyLimit: Int
        /// The largest size the WAL file is truncated to after a checkpoint (`PRAGMA journal_size_limit`).
        /// Default 8 MiB; from 0 to 1 TiB. https://www.sqlite.org/pragma.html#pragma_journal_size_limit
        public var journalSizeLimit: Int

        /// Where the store reports the time its write transactions waited for other processes' locks
        /// (timer `circuitry_sqlite_busy_wait`, recorded only for transactions that waited). Default `nil`: the
        /// metrics system the application bootstrapped.
        public var metricsFactory: (any MetricsFactory)?

        /// Creates a configuration.
        public init(
            busyTimeout: Duration = .seconds(1), historyLimit: Int = 100, journalSizeLimit: Int = 8 << 20,
            metricsFactory: (any MetricsFactory)? = nil
        ) {
            self.busyTimeout = busyTimeout
            self.historyLimit = historyLimit
            self.journalSizeLimit = journalSizeLimit
            self.metricsFactory = metricsFactory
        }
    }

    /// The database file.
    public let path: String
    private let clock: any WallClock
    private let statements: Mutex<SQLiteStatements?>
    private let busyWait: CoreMetrics.Timer

    /// Opens the database at `path`, creating it (and its schema) if the file does not exist yet.
    ///
    /// - Throws: ``CircuitStoreError`` (see the type's documentation for each case), or ``ConfigurationError`` for
    ///   settings out of range.
    public init(path: String, configuration: Configuration = Configuration(), clock: any WallClock = SystemClock())
        throws
    {
        guard (.zero ... .seconds(3600)).contains(configuration.busyTimeout), configuration.historyLimit >= 1,
            (0...1 << 40).contains(configuration.journalSizeLimit)
        else {
            throw ConfigurationError(
                setting: "configuration",
                message: "busyTimeout must be from 0 to 1 hour, journalSizeLimit from 0 to 1 TiB, "
                    + "historyLimit at least 1")
        }
        self.path = path
        self.clock = clock
        self.busyWait = CoreMetrics.Timer(
            label: "circuitry_sqlite_busy_wait", factory: configuration.metricsFactory ?? MetricsSystem.factory)
        try Self.checkLocation(path)
        let connection = try SQLiteConnection(path: path, busy: BusyPolicy(bound: configuration.busyTimeout))
        do {
            guard !connection.isReadOnly else {
                throw CircuitStoreError(
                    code: .readOnly, message: "the database file is read-only for this process", location: path)
            }
            // > WAL databases with synchronous=NORMAL are consistent after a crash and fast; the default FULL
            // > syncs on every commit. https://www.sqlite.org/pragma.html#pragma_synchronous
            try connection.execute("PRAGMA synchronous = NORMAL")
            try SQLiteSchema.prepare(connection)
            try connection.execute("PRAGMA journal_size_limit = \(configuration.journalSizeLimit)")
            // Twice the larger of the size limit and the automatic checkpoint's 1,000 pages (4 MiB).
            connection.walRestartThreshold = 2 * max(Int64(configuration.journalSizeLimit), 4 << 20)
            let prepared = try SQLiteStatements(connection, historyLimit: configuration.historyLimit)
            statements = Mutex(prepared)
        } catch {
            connection.close()
            throw error
        }
    }

    /// Closes the connection. Later calls throw ``CircuitStoreError/Code/closed``. Safe to call twice.
    public func close() {
        statements.withLock { statements in
            statements?.connection.close()
            statements = nil
        }
    }

    /// Total time this store waited for other processes' locks, and how many waits it took.
    public var busyWaits: (total: Duration, count: UInt64) {
        statements.withLock { statements in
            guard let waits = statements?.connection.busyWaits else { return (.zero, 0) }
            return (.nanoseconds(Int64(waits.nanoseconds)), waits.count)
        }
    }

    public func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        try withStatements { statements in
            // The time is taken before the read: a decision made on this snapshot is then never stamped later
            // than a write the snapshot did not see.
            let now = clock.now()
            return (try statements.select(name), now)
        }
    }

    public func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value {
        try writeTransaction { statements in
            let stored = try statements.select(name)
            var record = stored
            // Read after the lock is taken, so that commits are in time order.
            let now = clock.now()
            let result = try body(&record, now)
            if result.write, var record {
                record.updatedAt = now
                try statements.write(record, replacing: stored)
            }
            for transition in result.transitions {
                try statements.append(transition)
            }
            return result.value
        }
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction under the store's lock, and reports any wait for another
    /// process's lock to the busy-wait timer.
    private func writeTransaction<T>(_ body: (SQLiteStatements) throws -> T) throws -> T {
        try withStatements { statements in
            let waitedBefore = statements.connection.busyWaits.nanoseconds
            defer {
                let waited = statements.connection.busyWaits.nanoseconds - waitedBefore
                if waited > 0 { busyWait.recordNanoseconds(Int64(waited)) }
            }
            return try statements.connection.immediateTransaction { try body(statements) }
        }
    }

    public func list() async throws -> (records: [CircuitRecord], now: Timestamp) {
        try withStatements { statements in
            let now = clock.now()
            return (try statements.list(), now)
        }
    }

    public func remove(_ name: String) async throws -> Bool {
        try writeTransaction { try $0.delete(name) }
    }

    public func removeIdle(idleFor: Duration) async throws -> [String] {
        try writeTransaction { try $0.removeIdle(before: clock.now() - idleFor) }
    }

    public func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
        try withStatements { try $0.history(of: name, afterID: afterID, limit: max(0, limit)) }
    }

    private func withStatements<T>(_ body: (SQLiteStatements) throws -> T) throws -> T {
        try statements.withLock { statements in
            guard let statements else {
                throw CircuitStoreError(code: .closed, message: "the store is closed", location: path)
            }
            return try body(statements)
        }
    }

    /// Refuses paths SQLite would misread or fail on with a vaguer message.
    private static func checkLocation(_ path: String) throws(CircuitStoreError) {
        guard !path.isEmpty, path != ":memory:", !path.hasPrefix("file:") else {
            throw CircuitStoreError(
                code: .cannotOpen,
                message: "a shared store needs a file path (use InMemoryCircuitStore for a store of one process)",
                location: path)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else {
                throw CircuitStoreError(code: .isDirectory, message: "the path is a directory", location: path)
            }
            return
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CircuitStoreError(
                code: .cannotOpen, message: "the folder \(folder) does not exist", location: path)
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw CircuitStoreError(
                code: .readOnly, message: "the database does not exist and the folder \(folder) is not writable",
                location: path)
        }
    }
}
