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
/// ```sh
/// sqlite3 breakers.sqlite 'select name, state, failures, expires_at from circuit_status'
/// ```
///
/// Opening refuses, with a ``CircuitStoreError`` and without writing to the file: a directory, a missing folder,
/// a file that is not a database, a damaged database, a database of another application, a database written by a
/// newer Circuitry, and a location that cannot be written.
///
/// ## Waiting for another process's lock
///
/// A write that finds another process holding the write lock does not block its thread: the attempt fails at
/// once, and the store tries again after an asynchronous pause (20 µs growing to 250 µs, with jitter), until
/// ``Configuration/busyTimeout`` has passed; then it fails with ``CircuitStoreError/Code/busy``. Meanwhile the
/// process's reads and its other circuits go on, and concurrent waiting writes each get their answer within the
/// bound. A wait is not cut short when the calling task is cancelled: recording an outcome and flushing complete
/// within the same bound. Only the synchronous initialiser waits in its thread, when it must create or convert
/// the file while another process holds a lock.
///
/// ## A reader left open
///
/// In WAL mode readers never block writers: a reader that keeps a transaction open (an operator's `sqlite3`
/// session after `BEGIN; SELECT …`, a backup, a slow report) does not slow writes or lose outcomes. It does pin
/// the write-ahead log: no checkpoint may copy the frames written after its snapshot into the database or start
/// the log again while it stays, so the `-wal` file grows, by about 4 KiB per write, for as long as the reader
/// stays (a few hundred MiB for an hour of failures at 20 a second; reads stay fast). Checkpoints never wait for
/// it. Once it ends, the next commit's checkpoints copy the log into the database, and within about a second one
/// empties it (truncates the file to zero bytes); without readers the log stays under twice
/// ``Configuration/journalSizeLimit`` (at least 8 MiB) but for what writers add in that second.
/// https://www.sqlite.org/wal.html#avoiding_excessively_large_wal_files
///
/// ## The file under the store
///
/// The store uses the file that its path names. If the database is deleted (`rm breakers.sqlite*`) or replaced
/// (another file renamed over it) while processes have it open, each store notices before its next write, and
/// within a second before a read, closes the old file without writing to it again, and opens the file now at the
/// path, creating a new database if there is none, as a process started then would: all processes end up on the
/// one file at the path. Replace or delete the `-wal` and `-shm` files with the database, and not after it: while
/// the old database's `-wal` or `-shm` is still there, the store refuses to open a new file beside them (a new
/// file would take the old log for its own) and fails with ``CircuitStoreError/Code/fileReplaced`` until they are
/// gone. To restore a backup into a live database without any of this, use the `sqlite3` shell's `.restore`,
/// which writes through the locks. https://www.sqlite.org/howtocorrupt.html
public final class SQLiteCircuitStore: CircuitStore {
    /// How the store behaves. The defaults suit a job queue on one host.
    public struct Configuration: Sendable {
        /// The longest a call waits in total for another process's write lock before failing with
        /// ``CircuitStoreError/Code/busy``. Default 1 s; from 0 to 1 hour. The wait is asynchronous (see "Waiting for
        /// another process's lock" above).
        public var busyTimeout: Duration
        /// How many transitions of each circuit the history keeps. Default 100.
        public var historyLimit: Int
        /// The largest size the WAL file is truncated to after a checkpoint (`PRAGMA journal_size_limit`).
        /// Default 8 MiB; from 0 to 1 TiB. https://www.sqlite.org/pragma.html#pragma_journal_size_limit
        public var journalSizeLimit: Int

        /// Where the store reports the time its calls waited for other processes' locks (timer
        /// `circuitry_sqlite_busy_wait`, recorded only for calls that waited, in practice write transactions), and
        /// how many times it opened the file again because the database was deleted or replaced (counter
        /// `circuitry_sqlite_reopened`). Default `nil`: the metrics system the application bootstrapped.
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
    private let configuration: Configuration

    /// How many transitions of each circuit the history keeps (``Configuration/historyLimit``).
    public var historyLimit: Int { configuration.historyLimit }
    private let busyPolicy: BusyPolicy
    private let state: Mutex<State>
    private let busyWait: CoreMetrics.Timer
    private let reopened: CoreMetrics.Counter
    private let busyWaitedNanoseconds = Atomic<UInt64>(0)
    private let busyPauses = Atomic<UInt64>(0)

    /// What the store's lock protects.
    private struct State {
        /// The open connection's statements; `nil` once closed, and after the file was deleted or replaced until the
        /// file now at the path is open.
        var statements: SQLiteStatements?
        /// The files the last connection opened (kept after it is closed, to know the old `-wal` and `-shm`).
        var files: SQLiteFiles
        var closed = false
        /// Reads look at the path again from this instant on (monotonic nanoseconds).
        var nextFileCheck: UInt64 = 0
    }

    /// Thrown inside a write transaction that found the path naming another file: nothing was written.
    private struct DatabaseFileChanged: Error {}

    /// How often a read looks whether the path still names the open file.
    private static let fileCheckInterval: UInt64 = 1_000_000_000

    /// Opens the database at `path`, creating it (and its schema) if the file does not exist yet.
    ///
    /// Opening is synchronous: while another process holds a lock the schema check needs (when it creates the
    /// file, or switches it to WAL), the calling thread waits, within ``Configuration/busyTimeout``. Every later
    /// wait is asynchronous.
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
        self.configuration = configuration
        self.busyPolicy = BusyPolicy(bound: configuration.busyTimeout)
        let factory = configuration.metricsFactory ?? MetricsSystem.factory
        self.busyWait = CoreMetrics.Timer(label: "circuitry_sqlite_busy_wait", factory: factory)
        self.reopened = CoreMetrics.Counter(label: "circuitry_sqlite_reopened", factory: factory)
        let (statements, files) = try Self.open(path, configuration, waitingWhenBusy: true)
        state = Mutex(State(statements: statements, files: files))
    }

    /// Opens the database at `path`, checks or creates its schema, prepares the statements, and leaves the
    /// connection without a busy handler. With `waitingWhenBusy`, the calling thread waits for other processes'
    /// locks while opening (the synchronous initialiser); without, a lock fails the opening at once with `busy`.
    private static func open(_ path: String, _ configuration: Configuration, waitingWhenBusy: Bool) throws
        -> (SQLiteStatements, SQLiteFiles)
    {
        try checkLocation(path)
        let connection = try SQLiteConnection(
            path: path, busy: BusyPolicy(bound: configuration.busyTimeout), waitsWhenBusy: waitingWhenBusy)
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
            let files = try connection.files()
            let statements = try SQLiteStatements(connection, historyLimit: configuration.historyLimit)
            connection.stopWaitingWhenBusy()
            // Twice the larger of the size limit and the automatic checkpoint's 1,000 pages (4 MiB).
            try connection.takeOverCheckpoints(
                truncateAboveBytes: 2 * max(Int64(configuration.journalSizeLimit), 4 << 20))
            return (statements, files)
        } catch {
            connection.close()
            throw error
        }
    }

    /// Closes the connection. Later calls throw ``CircuitStoreError/Code/closed``. Safe to call twice.
    public func close() {
        state.withLock { state in
            state.closed = true
            state.statements?.connection.close()
            state.statements = nil
        }
    }

    /// Total time this store waited for other processes' locks, and how many pauses it took.
    public var busyWaits: (total: Duration, count: UInt64) {
        (.nanoseconds(Int64(busyWaitedNanoseconds.load(ordering: .relaxed))), busyPauses.load(ordering: .relaxed))
    }

    public func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        try await withConnection { statements in
            // The time is taken before the read: a decision made on this snapshot is then never stamped later
            // than a write the snapshot did not see.
            let now = clock.now()
            return (try statements.latest(name), now)
        }
    }

    public func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value {
        let (value, _) = try await writeTransaction { statements in
            // Under the write lock no commit can come between this read and the write: from the cache when the
            // wal-index header is still the one the record was read or written under.
            let stored = try statements.latest(name)
            var record = stored
            // Read after the lock is taken, so that commits are in time order.
            let now = clock.now()
            let result = try body(&record, now)
            var written = stored
            if result.write, var record {
                record.updatedAt = now
                try statements.write(record, replacing: stored)
                written = record
            }
            for transition in result.transitions {
                try statements.append(transition)
            }
            return (result.value, written)
        } committed: { statements, result in
            statements.reads.wrote(name, result.1, commit: statements.connection.lastCommit)
        }
        return value
    }

    public func list() async throws -> (records: [CircuitRecord], now: Timestamp) {
        try await withConnection { statements in
            let now = clock.now()
            return (try statements.list(), now)
        }
    }

    public func remove(_ name: String) async throws -> Bool {
        try await writeTransaction { try $0.delete(name) }
    }

    public func removeIdle(idleFor: Duration) async throws -> [String] {
        try await writeTransaction { try $0.removeIdle(before: clock.now() - idleFor) }
    }

    public func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
        try await withConnection { try $0.history(of: name, afterID: afterID, limit: max(0, limit)) }
    }

    // MARK: Waiting, and the file under the store

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction on the file the path names now (see ``withConnection(write:_:)``),
    /// then `committed` with its result once it committed, still under the store's lock.
    private func writeTransaction<T>(
        _ body: (SQLiteStatements) throws -> T, committed: (SQLiteStatements, T) -> Void = { _, _ in }
    ) async throws -> T {
        try await withConnection(write: true) { statements, files in
            let value = try statements.connection.immediateTransaction {
                // Under the write lock: the file this transaction writes to is still the one at the path. A file
                // deleted or replaced before this instant never receives a write.
                guard files.status == .unchanged else { throw DatabaseFileChanged() }
                return try body(statements)
            }
            committed(statements, value)
            return value
        }
    }

    /// Runs a read (`write` false) or a write transaction on the open connection under the store's lock, and again
    /// while it fails with ``CircuitStoreError/Code/busy``, pausing between tries without holding the lock or a
    /// thread, until ``Configuration/busyTimeout`` has passed since the first refusal.
    ///
    /// The connection has no busy handler: an attempt that meets another process's lock fails at once, having done
    /// nothing, and the store's lock is released. The pauses back off exponentially from 20 µs to 250 µs with
    /// jitter (``BusyBackoff``), as the measured busy handler did, but in an asynchronous sleep: meanwhile the
    /// process's reads (admission, rejection) and other circuits use the connection, and no thread of the
    /// cooperative pool sleeps. The pauses do not end early when the calling task is cancelled, so that recording
    /// an outcome and flushing complete within the same bound (``sleepIgnoringCancellation(microseconds:)``).
    private func withConnection<T>(write: Bool = false, _ attempt: (SQLiteStatements, SQLiteFiles) throws -> T)
        async throws -> T
    {
        var backoff: BusyBackoff?
        while true {
            do {
                let value = try withStatements(write: write, attempt)
                if let backoff { recordWait(backoff) }
                return value
            } catch let error as CircuitStoreError where error.code == .busy {
                if backoff == nil { backoff = BusyBackoff(busyPolicy) }
                guard let pause = backoff?.nextPause() else {
                    if let backoff { recordWait(backoff) }
                    throw error
                }
                await sleepIgnoringCancellation(microseconds: pause)
            }
        }
    }

    private func withConnection<T>(_ attempt: (SQLiteStatements) throws -> T) async throws -> T {
        try await withConnection(write: false) { statements, _ in try attempt(statements) }
    }

    private func recordWait(_ backoff: BusyBackoff) {
        let waited = backoff.waited()
        busyWaitedNanoseconds.add(waited, ordering: .relaxed)
        busyPauses.add(UInt64(backoff.pauses), ordering: .relaxed)
        busyWait.recordNanoseconds(Int64(clamping: waited))
    }

    /// Runs `attempt` under the store's lock on the connection to the file the path names.
    ///
    /// A read first looks, at most once a second, whether the path still names the open file; a write transaction
    /// looks every time, under the write lock (``writeTransaction(_:committed:)``). When the database was deleted or
    /// replaced, the store closes its connection, which never writes to that file again, and opens the file now at
    /// the path (creating it if there is none), as a process started now would: all processes end up on one file.
    /// What was written to the old file after it was deleted or replaced, and before the store looked, stays
    /// there. While the old database's `-wal` or `-shm` is still at its path, opening the new file there would take
    /// the old log for its own: the store fails with ``CircuitStoreError/Code/fileReplaced`` instead, until they
    /// are gone.
    private func withStatements<T>(write: Bool, _ attempt: (SQLiteStatements, SQLiteFiles) throws -> T) throws -> T {
        try state.withLock { state in
            // A second round only if the file was replaced again between opening it and using it.
            for _ in 0..<2 {
                let (statements, files) = try current(&state, lookingAtPath: !write)
                do {
                    return try attempt(statements, files)
                } catch is DatabaseFileChanged {
                    retire(&state)
                }
            }
            throw CircuitStoreError(
                code: .fileReplaced, message: "the database file was replaced again while it was being opened",
                location: path)
        }
    }

    /// The open connection, after opening the file at the path if the last one was retired. With `lookingAtPath`,
    /// first retires the connection if the path names another file (at most once a ``fileCheckInterval``).
    private func current(_ state: inout State, lookingAtPath: Bool) throws -> (SQLiteStatements, SQLiteFiles) {
        guard !state.closed else {
            throw CircuitStoreError(code: .closed, message: "the store is closed", location: path)
        }
        if lookingAtPath, state.statements != nil {
            let now = monotonicNanoseconds()
            if now >= state.nextFileCheck {
                state.nextFileCheck = now + Self.fileCheckInterval
                if state.files.status != .unchanged { retire(&state) }
            }
        }
        if let statements = state.statements { return (statements, state.files) }
        guard state.files.status != .replacedButOldLogRemains else {
            throw CircuitStoreError(
                code: .fileReplaced,
                message: "the database file was deleted or replaced, but the old database's -wal or -shm file is "
                    + "still at its path; remove them (with the database) to let the store open a new file",
                location: path)
        }
        let (statements, files) = try Self.open(path, configuration, waitingWhenBusy: false)
        state.statements = statements
        state.files = files
        state.nextFileCheck = monotonicNanoseconds() + Self.fileCheckInterval
        reopened.increment()
        return (statements, files)
    }

    /// Closes the connection to a file the path no longer names: nothing is written to it again.
    private func retire(_ state: inout State) {
        state.statements?.connection.close()
        state.statements = nil
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
