internal import CircuitrySQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How long and how a connection waits for another process's lock.
///
/// SQLite's own `sqlite3_busy_timeout` sleeps 1, 2, 5, 10 … ms between tries, which gave worst-case waits of
/// 180 ms–1.9 s with 4–8 processes on 2 cores. Our handler backs off exponentially from `initialDelay` to
/// `maximumDelay` with jitter and gives up once it has waited `bound` in total for one lock.
/// https://www.sqlite.org/c3ref/busy_handler.html
struct BusyPolicy: Sendable {
    var bound: Duration
    var initialDelayMicroseconds: UInt32 = 20
    var maximumDelayMicroseconds: UInt32 = 250
}

/// The state the C busy handler reads through its context pointer. Owned by its connection.
private final class BusyHandlerState {
    let policy: BusyPolicy
    var startedAt: UInt64 = 0
    var waitedNanoseconds: UInt64 = 0
    var totalWaits: UInt64 = 0

    init(policy: BusyPolicy) { self.policy = policy }

    /// Sleeps before try number `attempt` (0 for the first retry of a new wait), unless the wait that started at
    /// ``startedAt`` has used up the bound. Returns whether to try again.
    func backOff(attempt: Int) -> Bool {
        let now = monotonicNanoseconds()
        if attempt == 0 { startedAt = now }
        let bound = UInt64(max(0, policy.bound.milliseconds)) * 1_000_000
        let elapsed = now - startedAt
        guard elapsed < bound else { return false }
        let step = min(
            UInt64(policy.initialDelayMicroseconds) << min(attempt, 16), UInt64(policy.maximumDelayMicroseconds))
        // Jitter between half the step and the step, so that waiting processes do not wake in lockstep.
        let delay = min(UInt64.random(in: (step / 2)...max(step / 2, step)), (bound - elapsed) / 1000)
        usleep(useconds_t(delay))
        waitedNanoseconds &+= delay * 1000
        totalWaits &+= 1
        return true
    }
}

private func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// > The first argument to the busy handler is a copy of the void* pointer which is the third argument to
/// > sqlite3_busy_handler(). The second argument to the busy handler callback is the number of times that the busy
/// > handler has been invoked previously for the same locking event. If the busy callback returns 0, then no
/// > additional attempts are made to access the database and SQLITE_BUSY is returned to the application.
private func busyHandler(_ context: UnsafeMutableRawPointer?, _ invocations: Int32) -> Int32 {
    guard let context else { return 0 }
    let state = Unmanaged<BusyHandlerState>.fromOpaque(context).takeUnretainedValue()
    return state.backOff(attempt: Int(invocations)) ? 1 : 0
}

/// One SQLite connection: opened once per store, used under the store's lock, with statements prepared once.
///
/// Not thread-safe by itself (opened with `SQLITE_OPEN_NOMUTEX`); ``SQLiteCircuitStore`` serialises access.
final class SQLiteConnection {
    let path: String
    private(set) var handle: OpaquePointer?
    private let busyState: BusyHandlerState
    private var statements: [SQLiteStatement] = []
    /// `BEGIN IMMEDIATE` and `COMMIT`, prepared on first use (`sqlite3_exec` would parse them on every transaction).
    private var beginImmediate: SQLiteStatement?
    private var commit: SQLiteStatement?
    /// The WAL file, whose size ``checkpointIfWALIsLarge()`` watches.
    private let walPath: String
    /// Write transactions committed since the WAL's size was last looked at.
    private var commitsSinceWALCheck = 0
    /// Whether the last look found the WAL above ``walRestartThreshold`` and the checkpoint did not succeed.
    private var walIsLarge = false
    /// Above this many bytes of WAL, a commit is followed by a `RESTART` checkpoint (see ``checkpointIfWALIsLarge()``).
    var walRestartThreshold: Int64 = 16 << 20

    /// Opens (creating if missing) the database at `path` for reading and writing.
    init(path: String, busy: BusyPolicy) throws(CircuitStoreError) {
        self.path = path
        self.busyState = BusyHandlerState(policy: busy)
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            // > Whether or not an error occurs when it is opened, resources associated with the database connection
            // > handle should be released by passing it to sqlite3_close() when it is no longer required.
            sqlite3_close(db)
            throw SQLiteConnection.error(code: rc, message: message, sql: nil, path: path)
        }
        handle = db
        walPath = String(cString: sqlite3_db_filename(db, "main")) + "-wal"
        sqlite3_extended_result_codes(db, 1)
        _ = circuitry_sqlite3_enable_defensive(db)
        sqlite3_busy_handler(db, busyHandler, Unmanaged.passUnretained(busyState).toOpaque())
    }

    deinit {
        close()
    }

    /// Total time this connection's busy handler slept, and how many times.
    var busyWaits: (nanoseconds: UInt64, count: UInt64) { (busyState.waitedNanoseconds, busyState.totalWaits) }

    /// Whether SQLite opened the file read-only (for example because the file is not writable).
    var isReadOnly: Bool {
        guard let handle else { return true }
        return sqlite3_db_readonly(handle, "main") == 1
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int32 {
        guard let handle else { return 0 }
        return sqlite3_changes(handle)
    }

    /// Whether a transaction is open.
    var inTransaction: Bool {
        guard let handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    /// Finalises every statement and closes the connection. Safe to call twice.
    func close() {
        for statement in statements { statement.finalize() }
        statements = []
        guard let db = handle else { return }
        handle = nil
        // > If sqlite3_close_v2() is called with unfinalized prepared statements [...] the database connection
        // > becomes an unusable "zombie". All statements are finalised above, so SQLITE_OK is expected here.
        let rc = sqlite3_close_v2(db)
        assert(rc == SQLITE_OK, "sqlite3_close_v2 returned \(rc)")
    }

    /// Prepares `sql` once for repeated use; the connection finalises it on close.
    func prepare(_ sql: String) throws(CircuitStoreError) -> SQLiteStatement {
        guard let handle else { throw closedError() }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else {
            throw lastError(rc, sql: sql)
        }
        let statement = SQLiteStatement(raw, sql: sql, connection: self)
        statements.append(statement)
        return statement
    }

    /// Runs one or more statements that return no rows we need (DDL, `BEGIN`, `COMMIT`).
    func execute(_ sql: String) throws(CircuitStoreError) {
        guard let handle else { throw closedError() }
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw lastError(rc, sql: sql) }
    }

    /// Runs a one-off query and returns the first column of its first row as text (for pragmas).
    func scalarText(_ sql: String) throws(CircuitStoreError) -> String? {
        guard let handle else { throw closedError() }
        var raw: OpaquePointer?
        var rc = sqlite3_prepare_v2(handle, sql, -1, &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw lastError(rc, sql: sql) }
        defer { sqlite3_finalize(raw) }
        rc = sqlite3_step(raw)
        switch rc {
        case SQLITE_ROW:
            return sqlite3_column_text(raw, 0).map { String(cString: $0) }
        case SQLITE_DONE:
            return nil
        default:
            throw lastError(rc, sql: sql)
        }
    }

    /// Like ``scalarText(_:)``, as an integer.
    func scalarInt(_ sql: String) throws(CircuitStoreError) -> Int64 {
        Int64(try scalarText(sql) ?? "0") ?? 0
    }

    /// Runs `body`, and again while it fails with SQLITE_BUSY, backing off as the busy handler does, until the
    /// busy bound is spent: for the statements that SQLite fails as busy without calling the busy handler.
    func retryingWhenBusy<T>(_ body: () throws(CircuitStoreError) -> T) throws(CircuitStoreError) -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error where error.code == .busy && busyState.backOff(attempt: attempt) {
                attempt += 1
            }
        }
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back if anything throws.
    ///
    /// `BEGIN IMMEDIATE` takes the write lock up front (through the busy handler), instead of a deferred
    /// transaction's upgrade from read to write, which fails with SQLITE_BUSY without calling the busy handler.
    /// https://www.sqlite.org/lang_transaction.html
    func immediateTransaction<T>(_ body: () throws -> T) throws -> T {
        try run(&beginImmediate, "BEGIN IMMEDIATE")
        let value: T
        do {
            value = try body()
            try run(&commit, "COMMIT")
        } catch {
            if inTransaction { try? execute("ROLLBACK") }
            throw error
        }
        checkpointIfWALIsLarge()
        return value
    }

    /// Runs a statement without parameters or rows, prepared once into `cached`.
    private func run(_ cached: inout SQLiteStatement?, _ sql: String) throws {
        let statement: SQLiteStatement
        if let cached {
            statement = cached
        } else {
            statement = try prepare(sql)
            cached = statement
        }
        try statement.use { try $0.run() }
    }

    /// Every 16 commits (every commit while the WAL is too large), looks at the WAL's size; above
    /// ``walRestartThreshold``, runs a `RESTART` checkpoint.
    ///
    /// The automatic checkpoint after a commit is `PASSIVE`: it copies only the frames that no reader still needs,
    /// and the WAL starts again from its beginning only when a writer finds it entirely copied and unread. While
    /// several processes read and write without pause there is always a reader, so the WAL never restarts and grows
    /// without bound (about 100 MiB a second with 4 writing processes on 2 cores).
    /// > RESTART: This mode works the same way as FULL with the addition that after checkpointing the log file it
    /// > blocks (calls the busy-handler callback) until all readers are finished with the log file. This ensures
    /// > that the next writer will restart the log file from the beginning.
    /// https://www.sqlite.org/c3ref/wal_checkpoint_v2.html
    /// Readers hold the WAL for microseconds, so the wait is short; it is bounded by the busy handler. It fails at
    /// once with SQLITE_BUSY while another connection checkpoints (every commit runs the automatic one once the WAL
    /// has 1,000 pages), so after a failure the next commit tries again. The commit is already durable, so a
    /// checkpoint that fails is left for the next commit rather than reported.
    private func checkpointIfWALIsLarge() {
        commitsSinceWALCheck += 1
        guard walIsLarge || commitsSinceWALCheck >= 16, let handle else { return }
        commitsSinceWALCheck = 0
        var info = stat()
        walIsLarge = stat(walPath, &info) == 0 && Int64(info.st_size) > walRestartThreshold
        guard walIsLarge else { return }
        if sqlite3_wal_checkpoint_v2(handle, "main", SQLITE_CHECKPOINT_RESTART, nil, nil) == SQLITE_OK {
            walIsLarge = false
        }
    }

    func lastError(_ rc: Int32, sql: String?) -> CircuitStoreError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? rc
        return Self.error(code: extended == 0 ? rc : extended, message: message, sql: sql, path: path)
    }

    private func closedError() -> CircuitStoreError {
        CircuitStoreError(code: .closed, message: "the store is closed", location: path)
    }

    /// Maps an (extended) SQLite result code to a store error that keeps the code, message and SQL.
    static func error(code: Int32, message: String, sql: String?, path: String) -> CircuitStoreError {
        let kind: CircuitStoreError.Code
        switch code & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED: kind = .busy
        case SQLITE_NOTADB: kind = .notADatabase
        case SQLITE_CORRUPT: kind = .corrupt
        case SQLITE_READONLY: kind = .readOnly
        case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH: kind = .cannotOpen
        case SQLITE_FULL: kind = .full
        default: kind = .other
        }
        let name = sqlite3_errstr(code).map { String(cString: $0) } ?? "unknown"
        return CircuitStoreError(
            code: kind, message: "SQLite error \(code) (\(name)): \(message)", location: path, sqliteCode: code,
            sql: sql)
    }
}
