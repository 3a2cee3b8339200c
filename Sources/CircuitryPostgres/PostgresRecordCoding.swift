#if Postgres

import Circuitry
import PostgresNIO

/// The mapping between rows of the `circuits` and `transitions` tables and ``CircuitRecord`` / ``HistoryEntry``.
///
/// Columns and their meaning are the same as in the SQLite store, so that operators read both alike.
enum PostgresRecordCoding {
    /// Every column, in ``CircuitColumn`` order; quoted, since `window` is a reserved word in PostgreSQL.
    static let columns = CircuitColumn.names(quote: quoted)
    /// `$1, $2, …`: one parameter per column, numbered as the columns.
    static let parameters = CircuitColumn.allCases.map { "$\($0.rawValue + 1)" }.joined(separator: ", ")
    /// `"state" = $2, …`: every column but the name, for an `UPDATE … WHERE name = $1` bound to ``bindings(_:)``.
    static let assignments = CircuitColumn.allCases.dropFirst().map { "\(quoted($0.name)) = $\($0.rawValue + 1)" }
        .joined(separator: ", ")
    static let transitionColumns = "id, circuit, at, from_state, to_state, generation, reason, actor"

    private static func quoted(_ name: String) -> String { "\"\(name)\"" }

    /// Decodes the ``columns`` starting at `offset`; `nil` if the row has no circuit (a `NULL` name).
    static func record(_ row: PostgresRandomAccessRow, offset: Int = 0) throws -> CircuitRecord? {
        guard try row[offset].decode(String?.self) != nil else { return nil }
        return try CircuitRow { column throws(CircuitStoreError) in
            let cell = row[offset + column.rawValue]
            do {
                switch column.kind {
                case .integer: return try cell.decode(Int64?.self).map(ColumnValue.integer) ?? .null
                case .text: return try cell.decode(String?.self).map(ColumnValue.text) ?? .null
                }
            } catch {
                throw CircuitRow.malformed("\(column.name) (\(cell.dataType), not \(column.kind))")
            }
        }.record()
    }

    static func entry(_ row: PostgresRandomAccessRow) throws -> HistoryEntry {
        let transition = CircuitTransition(
            circuit: try row[1].decode(String.self),
            from: try CircuitRow.state(try row[3].decode(String.self)),
            to: try CircuitRow.state(try row[4].decode(String.self)),
            generation: try row[5].decode(Int64.self),
            at: Timestamp(millisecondsSince1970: try row[2].decode(Int64.self)),
            reason: try row[6].decode(String.self),
            actor: try row[7].decode(String.self))
        return HistoryEntry(id: try row[0].decode(Int64.self), transition: transition)
    }

    /// The values of ``columns`` for `record`, as ``parameters``.
    static func bindings(_ record: CircuitRecord) -> PostgresBindings {
        let row = CircuitRow(record)
        var bindings = PostgresBindings(capacity: CircuitColumn.allCases.count)
        for column in CircuitColumn.allCases {
            switch row[column] {
            case .integer(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .null, .unreadable:
                // Typed NULLs: PostgreSQL infers a parameter's type from where it is used, but say it anyway.
                switch column.kind {
                case .integer: bindings.append(Int64?.none)
                case .text: bindings.append(String?.none)
                }
            }
        }
        return bindings
    }
}

#endif
