/// A store could not do what was asked. Nothing was written by the failed operation.
///
/// The ``code`` says what kind of failure it is; the description names the store's location and the cause:
/// `SQLite error 5 (SQLITE_BUSY): database is locked - while executing "BEGIN IMMEDIATE" - at /var/lib/app/breakers.sqlite`.
public struct CircuitStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Another process held the lock for longer than the busy bound.
        public static let busy = Code("busy")
        /// The store could not be opened or reached (missing folder, permissions, connection refused).
        public static let cannotOpen = Code("cannot open")
        /// The store does not exist yet (no database file; no tables in the database, or no table), and the caller
        /// asked for it not to be created.
        public static let missing = Code("missing")
        /// The path is a directory.
        public static let isDirectory = Code("is a directory")
        /// The file is not a database.
        public static let notADatabase = Code("not a database")
        /// The file is a database, but not one of Circuitry's: it is left alone.
        public static let foreignDatabase = Code("not a Circuitry database")
        /// The database was written by a newer version of Circuitry.
        public static let newerSchema = Code("newer schema")
        /// The database is damaged (for example truncated).
        public static let corrupt = Code("corrupt")
        /// The location is read-only.
        public static let readOnly = Code("read-only")
        /// The disk is full.
        public static let full = Code("disk full")
        /// The store's file was deleted or replaced while the store had it open, and the store cannot switch to
        /// the file now at its path yet (for the SQLite store: the old database's `-wal` or `-shm` file is still
        /// there). Nothing was written.
        public static let fileReplaced = Code("file replaced")
        /// The store's connection was lost or timed out.
        public static let connectionLost = Code("connection lost")
        /// The store was closed.
        public static let closed = Code("closed")
        /// The name is not valid for a circuit.
        public static let invalidName = Code("invalid name")
        /// Any other failure of the underlying database.
        public static let other = Code("database error")

        /// The code's name, as in `busy` or `newer schema`.
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, in words (for SQLite: the library's own message with its result code).
    public var message: String
    /// Where: the database path, or a URL without its password.
    public var location: String?
    /// SQLite's extended result code, when SQLite reported the failure.
    public var sqliteCode: Int32?
    /// The SQL that failed, if any. Bound values are never included.
    public var sql: String?

    /// Creates a store error.
    public init(code: Code, message: String, location: String? = nil, sqliteCode: Int32? = nil, sql: String? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.sqliteCode = sqliteCode
        self.sql = sql
    }

    /// The message, the SQL and the location on one line.
    public var description: String {
        var text = message
        if let sql { text += " - while executing \"\(sql)\"" }
        if let location { text += " - at \(location)" }
        return text
    }
}
