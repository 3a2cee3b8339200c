internal import CircuitrySQLite

/// A statement prepared once and reused; ``use(_:)`` always resets it afterwards.
///
/// A statement left un-reset keeps its read transaction open, which stops checkpoints from resetting the WAL
/// and lets it grow without bound. https://www.sqlite.org/wal.html#avoiding_excessively_large_wal_files
final class SQLiteStatement {
    private var handle: OpaquePointer?
    let sql: String
    private unowned let connection: SQLiteConnection

    init(_ handle: OpaquePointer, sql: String, connection: SQLiteConnection) {
        self.handle = handle
        self.sql = sql
        self.connection = connection
    }

    /// Runs `body` with the statement, then resets it and clears its bindings whatever happens.
    func use<T>(_ body: (SQLiteStatement) throws -> T) throws -> T {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        return try body(self)
    }

    func finalize() {
        // > Invoking sqlite3_finalize() on a NULL pointer is a harmless no-op. Its return value repeats the last
        // > error of the statement, which has already been reported where it happened.
        sqlite3_finalize(handle)
        handle = nil
    }

    // MARK: Binding (1-based, as in SQLite)

    func bind(_ index: Int32, _ value: Int64) throws(CircuitStoreError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    func bind(_ index: Int32, _ value: Int64?) throws(CircuitStoreError) {
        if let value { try bind(index, value) } else { try check(sqlite3_bind_null(handle, index)) }
    }

    func bind(_ index: Int32, _ value: String?) throws(CircuitStoreError) {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        try check(sqlite3_bind_text(handle, index, value, -1, circuitry_sqlite3_transient()))
    }

    func bind(_ index: Int32, _ value: ColumnValue) throws(CircuitStoreError) {
        switch value {
        case .integer(let number): try bind(index, number)
        case .text(let text): try bind(index, text)
        case .null, .unreadable: try check(sqlite3_bind_null(handle, index))
        }
    }

    // MARK: Stepping and reading

    /// Steps once: `true` when a row is available, `false` when done.
    func step() throws(CircuitStoreError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.lastError(rc, sql: sql)
        }
    }

    /// Steps to the end, for statements that return no rows.
    func run() throws(CircuitStoreError) {
        while try step() {}
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    /// The value in `column` as stored, whatever its type: a real number or a blob is ``ColumnValue/unreadable(_:)``
    /// (`sqlite3_column_int64` would read text such as `'abc'` as 0 without saying so).
    func value(_ column: Int32) -> ColumnValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_NULL: .null
        case SQLITE_INTEGER: .integer(sqlite3_column_int64(handle, column))
        case SQLITE_TEXT: text(column).map(ColumnValue.text) ?? .null
        default: .unreadable((text(column) ?? "").debugDescription)
        }
    }

    /// The integer in `column`, or `nil` if it is NULL. A value of another type (text, a real number, a blob) is a
    /// ``CircuitStoreError/Code/corrupt`` error naming the column: `sqlite3_column_int64` would read text such as
    /// `'abc'` as 0 without saying so.
    func integer(_ column: Int32) throws(CircuitStoreError) -> Int64? {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_NULL: return nil
        case SQLITE_INTEGER: return sqlite3_column_int64(handle, column)
        default:
            throw CircuitRow.malformed(
                "\(columnName(column)) (\((text(column) ?? "").debugDescription), not an integer)")
        }
    }

    /// The integer in `column`; NULL is a ``CircuitStoreError/Code/corrupt`` error, as is any other type.
    func requiredInteger(_ column: Int32) throws(CircuitStoreError) -> Int64 {
        guard let value = try integer(column) else { throw CircuitRow.malformed("\(columnName(column)) (NULL)") }
        return value
    }

    /// The text in `column`; NULL is a ``CircuitStoreError/Code/corrupt`` error.
    func requiredText(_ column: Int32) throws(CircuitStoreError) -> String {
        guard let value = text(column) else { throw CircuitRow.malformed("\(columnName(column)) (NULL)") }
        return value
    }

    private func columnName(_ column: Int32) -> String {
        sqlite3_column_name(handle, column).map { String(cString: $0) } ?? "column \(column)"
    }

    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    private func check(_ rc: Int32) throws(CircuitStoreError) {
        guard rc == SQLITE_OK else { throw connection.lastError(rc, sql: sql) }
    }
}
