internal import CircuitrySQLite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One SQLite connection: opened once per store, used under the store's lock, with statements prepared once.
///
/// Not thread-safe by itself (opened with `SQLITE_OPEN_NOMUTEX`); ``SQLiteCircuitStore`` serialises access.
///
/// While it opens, a connection waits for other processes' locks in the calling thread (``OpeningBusyHandler``).
/// A store then calls ``stopWaitingWhenBusy()``: from there on SQLite fails a locked attempt at once with
/// SQLITE_BUSY, and the store waits asynchronously, without holding its lock or a thread.
final class SQLiteConnection {
    let path: String
    private(set) var handle: OpaquePointer?
    private let openingBusyHandler: OpeningBusyHandler
    /// Whether a locked database makes this connection wait in the calling thread (while opening).
    private(set) var waitsWhenBusy: Bool
    private var statements: [SQLiteStatement] = []
    /// `BEGIN IMMEDIATE` and `COMMIT`, prepared on first use (`sqlite3_exec` would parse them on every transaction).
    private var beginImmediate: SQLiteStatement?
    private var commit: SQLiteStatement?
    /// The database's absolute path, as SQLite resolved it (the process's working folder may change later).
    let resolvedPath: String
    /// The store's checkpoints, once ``takeOverCheckpoints(truncateAboveBytes:)`` was called; until then SQLite's
    /// automatic checkpoint.
    private var checkpointer: SQLiteCheckpointer?
    /// The database's wal-index header in SQLite's shared memory, once ``takeOverCheckpoints(truncateAboveBytes:)``
    /// was called (``SQLiteWALIndex``); `nil` before, and where SQLite keeps none this process can read.
    private(set) var walIndex: SQLiteWALIndex?
    /// What the last write transaction's commit left, when the connection could tell that its own commit was the last
    /// of any connection (see ``OwnCommit``); `nil` otherwise.
    private(set) var lastCommit: OwnCommit?

    /// The wal-index headers around a commit of this connection that no other commit followed: the database as the
    /// header `after` describes it is the database as this connection's transaction left it.
    ///
    /// `before` is read inside the transaction, under the write lock, when no other connection can commit; `after`
    /// right after the commit. Every commit of every connection adds one to the header's change counter and moves its
    /// last valid frame to the commit's last frame (a checkpoint that starts the log again changes the header but not
    /// the content). So a header `after` whose counter is one more than `before`'s and whose last frame is the one the
    /// WAL hook reported for this commit is this commit's; when the transaction wrote nothing, `after` must be
    /// `before` itself. Anything else (another commit, a checkpoint that started the log again, a header being
    /// written) leaves no ``OwnCommit``, and the cache forgets what it kept.
    struct OwnCommit {
        var before: SQLiteWALIndex.Header
        var after: SQLiteWALIndex.Header
    }

    /// Opens (creating if missing) the database at `path` for reading and writing. With `waitsWhenBusy`, a lock held
    /// by another process makes the calling thread wait for it, within `busy.bound`; without, it fails at once.
    init(path: String, busy: BusyPolicy, waitsWhenBusy: Bool = true) throws(CircuitStoreError) {
        self.path = path
        self.openingBusyHandler = OpeningBusyHandler(policy: busy)
        self.waitsWhenBusy = waitsWhenBusy
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            let systemErrno = db.map { sqlite3_system_errno($0) } ?? 0
            // > Whether or not an error occurs when it is opened, resources associated with the database connection
            // > handle should be released by passing it to sqlite3_close() when it is no longer required.
            sqlite3_close(db)
            throw SQLiteConnection.error(code: rc, message: message, sql: nil, path: path, systemErrno: systemErrno)
        }
        handle = db
        resolvedPath = String(cString: sqlite3_db_filename(db, "main"))
        sqlite3_extended_result_codes(db, 1)
        _ = circuitry_sqlite3_enable_defensive(db)
        if waitsWhenBusy {
            sqlite3_busy_handler(db, openingBusyCallback, Unmanaged.passUnretained(openingBusyHandler).toOpaque())
        }
    }

    deinit {
        close()
    }

    /// Removes the busy handler: from now on an attempt that meets another process's lock fails at once with
    /// SQLITE_BUSY, and the caller decides how to wait.
    func stopWaitingWhenBusy() {
        guard let handle else { return }
        // > If the busy callback is NULL, then SQLITE_BUSY is returned immediately upon encountering the lock.
        // > There can only be a single busy handler defined for each database connection. Setting a new busy
        // > handler clears any previously set handler.
        sqlite3_busy_handler(handle, nil, nil)
        waitsWhenBusy = false
    }

    /// Replaces SQLite's automatic checkpoint with ``SQLiteCheckpointer``, which never waits and keeps the
    /// write-ahead log under `truncateAboveBytes` once no reader pins it. Call after ``stopWaitingWhenBusy()``.
    func takeOverCheckpoints(truncateAboveBytes: Int64) throws(CircuitStoreError) {
        guard let handle else { throw closedError() }
        precondition(!waitsWhenBusy, "a checkpoint with a busy handler would wait for readers")
        let pageSize = try scalarInt("PRAGMA page_size")
        checkpointer = SQLiteCheckpointer(
            handle: handle, truncateAboveBytes: truncateAboveBytes, pageSize: max(512, pageSize))
        // After a read transaction in WAL mode (`PRAGMA schema_version` reads the database header) SQLite has mapped
        // the wal-index, so the mapping obtained below is SQLite's own. If that read fails (another process is
        // recovering the log), the connection goes without: every read is a `SELECT`.
        if (try? scalarInt("PRAGMA schema_version")) != nil {
            walIndex = SQLiteWALIndex(connection: handle)
        }
    }

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

    /// The identities of the database's three files, to notice later that the path names another file.
    ///
    /// Called once the database is in WAL mode and has been read, so that the `-wal` and `-shm` files exist. Fails
    /// with ``CircuitStoreError/Code/fileReplaced`` if the path already names another file than the one SQLite
    /// opened (`SQLITE_FCNTL_HAS_MOVED`: replaced while opening).
    func files() throws(CircuitStoreError) -> SQLiteFiles {
        guard let handle else { throw closedError() }
        let database = FileIdentity(path: resolvedPath)
        var moved: Int32 = 0
        let rc = sqlite3_file_control(handle, "main", SQLITE_FCNTL_HAS_MOVED, &moved)
        guard let database, rc != SQLITE_OK || moved == 0 else {
            throw CircuitStoreError(
                code: .fileReplaced, message: "the database file was deleted or replaced while it was being opened",
                location: path)
        }
        return SQLiteFiles(
            path: resolvedPath, database: database, wal: FileIdentity(path: resolvedPath + "-wal"),
            sharedMemory: FileIdentity(path: resolvedPath + "-shm"))
    }

    /// Finalises every statement and closes the connection. Safe to call twice.
    ///
    /// Closing the last connection to a database checkpoints it and deletes its `-wal` and `-shm` files by name;
    /// SQLite skips both when the database file was moved or deleted (`SQLITE_FCNTL_HAS_MOVED`), so closing a
    /// connection to a replaced file never deletes the new database's log.
    func close() {
        // SQLite unmaps the wal-index when it closes the connection.
        walIndex = nil
        lastCommit = nil
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
    /// busy bound is spent: for the statements that SQLite fails as busy without calling the busy handler. A
    /// connection that does not wait (``waitsWhenBusy`` is false) runs `body` once.
    func retryingWhenBusy<T>(_ body: () throws(CircuitStoreError) -> T) throws(CircuitStoreError) -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error
                where error.code == .busy && waitsWhenBusy
                && openingBusyHandler.backOff(attempt: attempt)
            {
                attempt += 1
            }
        }
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`, rolling back if anything throws, then runs the checkpoints
    /// (``SQLiteCheckpointer``).
    ///
    /// `BEGIN IMMEDIATE` takes the write lock up front, instead of a deferred transaction's upgrade from read to
    /// write, which fails with SQLITE_BUSY without calling the busy handler.
    /// https://www.sqlite.org/lang_transaction.html
    /// Once the store has called ``stopWaitingWhenBusy()``, `BEGIN IMMEDIATE` fails at once with ``busy`` while
    /// another process holds the lock; nothing has been done then, and the store retries later.
    ///
    /// Afterwards ``lastCommit`` says whether the commit was the last of any connection, as far as the wal-index shows.
    func immediateTransaction<T>(_ body: () throws -> T) throws -> T {
        lastCommit = nil
        try run(&beginImmediate, "BEGIN IMMEDIATE")
        // Under the write lock: the header of the last commit of any connection, which none can follow until ours.
        let before = walIndex?.header()
        checkpointer?.framesAfterCommit = 0
        let value: T
        do {
            value = try body()
            try run(&commit, "COMMIT")
        } catch {
            if inTransaction { try? execute("ROLLBACK") }
            throw error
        }
        if let before, let checkpointer, let after = walIndex?.header() {
            // The WAL hook ran during the commit if and only if it wrote frames to the log, with the number of the
            // commit's last frame: the header `after` must be that commit's (one more commit, that last frame). A
            // commit that wrote nothing leaves the header as it was.
            let frames = checkpointer.framesAfterCommit
            let isOwn =
                frames > 0
                ? after.changeCounter == before.changeCounter &+ 1 && Int64(after.lastFrame) == Int64(frames)
                : after == before
            if isOwn { lastCommit = OwnCommit(before: before, after: after) }
        }
        checkpointer?.afterCommit()
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

    func lastError(_ rc: Int32, sql: String?) -> CircuitStoreError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? rc
        let systemErrno = handle.map { sqlite3_system_errno($0) } ?? 0
        return Self.error(
            code: extended == 0 ? rc : extended, message: message, sql: sql, path: path, systemErrno: systemErrno)
    }

    private func closedError() -> CircuitStoreError {
        CircuitStoreError(code: .closed, message: "the store is closed", location: path)
    }

    /// Maps an (extended) SQLite result code to a store error that keeps the code, message and SQL.
    ///
    /// `systemErrno` is `sqlite3_system_errno`: the operating system's error behind an I/O error.
    static func error(code: Int32, message: String, sql: String?, path: String, systemErrno: Int32 = 0)
        -> CircuitStoreError
    {
        let name = sqlite3_errstr(code).map { String(cString: $0) } ?? "unknown"
        return CircuitStoreError(
            code: kind(of: code, systemErrno: systemErrno), message: "SQLite error \(code) (\(name)): \(message)",
            location: path, sqliteCode: code, sql: sql)
    }

    /// The store error code for an (extended) SQLite result code.
    ///
    /// Out of space is ``CircuitStoreError/Code/full`` whichever file ran out: SQLITE_FULL (the database or the
    /// WAL), SQLITE_IOERR_SHMSIZE (the `-shm` file could not grow), and any other I/O error whose system error is
    /// ENOSPC or EDQUOT (a write, a truncate or an `fsync` that failed for want of space or quota).
    /// https://www.sqlite.org/rescode.html#ioerr_shmsize
    static func kind(of code: Int32, systemErrno: Int32) -> CircuitStoreError.Code {
        // Extended codes are macros Swift does not import:
        // > #define SQLITE_IOERR_SHMSIZE           (SQLITE_IOERR | (19<<8))
        // > #define SQLITE_READONLY_DBMOVED        (SQLITE_READONLY | (4<<8))
        let ioErrorSharedMemorySize = SQLITE_IOERR | (19 << 8)
        let readOnlyDatabaseMoved = SQLITE_READONLY | (4 << 8)
        return switch code & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_NOTADB: .notADatabase
        case SQLITE_CORRUPT: .corrupt
        case SQLITE_READONLY: code == readOnlyDatabaseMoved ? .fileReplaced : .readOnly
        case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH: .cannotOpen
        case SQLITE_FULL: .full
        case SQLITE_IOERR where code == ioErrorSharedMemorySize || systemErrno == ENOSPC || systemErrno == EDQUOT: .full
        default: .other
        }
    }
}
