internal import CircuitrySQLite

/// The physical limit of the store: the same file, pragmas and row as Circuitry, with none of Circuitry.
///
/// One connection with prepared statements (always reset), `synchronous = NORMAL` in WAL mode, on a row of the
/// `circuits` table that Circuitry created, so that the row, the index and the file are the ones Circuitry uses.
///
/// `@unchecked Sendable`: the benchmark runs its cases one after another, so one task at a time uses the
/// connection; a lock around it would add its own cost to the floor.
final class RawSQLite: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private var db: OpaquePointer?
    private let begin: OpaquePointer
    private let commit: OpaquePointer
    private let select: OpaquePointer
    private let update: OpaquePointer
    private let row: String

    /// Opens `path` (a database Circuitry already created) and makes sure the row `row` exists.
    init(path: String, row: String) throws {
        self.row = row
        db = try Self.open(path)
        begin = try Self.prepare(db, "BEGIN IMMEDIATE")
        commit = try Self.prepare(db, "COMMIT")
        select = try Self.prepare(
            db,
            """
            SELECT name, state, generation, requests, successes, failures, consecutive_successes, \
            consecutive_failures, expires_at, probes, override, override_until, override_reason, open_attempts, \
            updated_at FROM circuits WHERE name = ?1
            """)
        update = try Self.prepare(
            db, "UPDATE circuits SET requests = requests + 1, failures = failures + 1, updated_at = ?2 WHERE name = ?1")
        try Self.exec(
            db,
            """
            INSERT OR IGNORE INTO circuits (name, state, generation, updated_at) VALUES ('\(row)', 'closed', 1, 0)
            """)
    }

    deinit {
        for statement in [begin, commit, select, update] { sqlite3_finalize(statement) }
        // > If sqlite3_close_v2() is called with unfinalized prepared statements […] the connection becomes a
        // > zombie: every statement is finalised above, so this closes it.
        sqlite3_close_v2(db)
    }

    /// Opens a connection the way Circuitry does: read-write, WAL checked, `synchronous = NORMAL`.
    static func open(_ path: String) throws -> OpaquePointer? {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK else {
            sqlite3_close_v2(db)
            throw Failure(description: "cannot open \(path)")
        }
        sqlite3_busy_timeout(db, 1000)
        try exec(db, "PRAGMA synchronous = NORMAL")
        try exec(db, "PRAGMA journal_mode = WAL")
        return db
    }

    /// Opens and closes a connection: the floor of opening a store.
    static func openAndClose(_ path: String) throws {
        let db = try open(path)
        sqlite3_close_v2(db)
    }

    /// `BEGIN IMMEDIATE; SELECT row; UPDATE row; COMMIT`.
    func writeTransaction(now: Int64) throws {
        try step(begin)
        try readRow()
        sqlite3_bind_text(update, 1, row, -1, circuitry_sqlite3_transient())
        sqlite3_bind_int64(update, 2, now)
        try step(update)
        try step(commit)
    }

    /// One plain `SELECT` of the row, outside a transaction.
    func read() throws {
        try readRow()
    }

    private func readRow() throws {
        sqlite3_bind_text(select, 1, row, -1, circuitry_sqlite3_transient())
        defer { sqlite3_reset(select) }
        guard sqlite3_step(select) == SQLITE_ROW else { throw Failure(description: "the floor row is missing") }
        // Read the columns a decision needs, as Circuitry does.
        _ = sqlite3_column_text(select, 1)
        _ = sqlite3_column_int64(select, 2)
        _ = sqlite3_column_int64(select, 7)
    }

    private func step(_ statement: OpaquePointer) throws {
        defer { sqlite3_reset(statement) }
        let rc = sqlite3_step(statement)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else {
            throw Failure(description: "SQLite error \(rc): \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    private static func prepare(_ db: OpaquePointer?, _ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
            let statement
        else {
            throw Failure(description: "cannot prepare \(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        return statement
    }

    static func exec(_ db: OpaquePointer?, _ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw Failure(description: "cannot run \(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    /// The version of the SQLite library in use.
    static var version: String { String(cString: sqlite3_libversion()) }

    /// Copies the WAL into the database and truncates it, so that the next case starts from an empty WAL.
    static func checkpoint(_ path: String) throws {
        let db = try open(path)
        defer { sqlite3_close_v2(db) }
        try exec(db, "PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Inserts `count` closed circuits named `prefix0` … in one transaction, as Circuitry would store them.
    static func populate(path: String, prefix: String, count: Int, now: Int64) throws {
        let db = try open(path)
        defer { sqlite3_close_v2(db) }
        let insert = try prepare(
            db, "INSERT OR IGNORE INTO circuits (name, state, generation, updated_at) VALUES (?1, 'closed', 1, ?2)")
        defer { sqlite3_finalize(insert) }
        try exec(db, "BEGIN IMMEDIATE")
        for index in 0..<count {
            sqlite3_bind_text(insert, 1, "\(prefix)\(index)", -1, circuitry_sqlite3_transient())
            sqlite3_bind_int64(insert, 2, now)
            let rc = sqlite3_step(insert)
            sqlite3_reset(insert)
            guard rc == SQLITE_DONE else { throw Failure(description: "insert failed: \(rc)") }
        }
        try exec(db, "COMMIT")
    }
}
