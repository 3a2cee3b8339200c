#if Postgres

import Circuitry
import PostgresNIO

/// The mapping between rows of the `circuits` and `transitions` tables and ``CircuitRecord`` / ``HistoryEntry``.
///
/// Columns and their meaning are the same as in the SQLite store, so that operators read both alike.
enum PostgresRecordCoding {
    static let columns = """
        name, state, generation, requests, successes, failures, consecutive_successes, consecutive_failures, \
        expires_at, probes, override, override_until, override_reason, open_attempts, "window", updated_at
        """
    static let transitionColumns = "id, circuit, at, from_state, to_state, generation, reason, actor"

    /// Decodes the 16 ``columns`` starting at `offset`; `nil` if the row has no circuit (a `NULL` name).
    static func record(_ row: PostgresRandomAccessRow, offset: Int = 0) throws -> CircuitRecord? {
        guard let name = try row[offset].decode(String?.self) else { return nil }
        let int = { (index: Int) throws -> Int64 in try row[offset + index].decode(Int64.self) }
        let optionalInt = { (index: Int) throws -> Int64? in try row[offset + index].decode(Int64?.self) }
        let text = { (index: Int) throws -> String? in try row[offset + index].decode(String?.self) }
        return try CircuitRow(
            name: name, state: try text(1) ?? "", generation: try int(2), requests: try int(3),
            successes: try int(4), failures: try int(5), consecutiveSuccesses: try int(6),
            consecutiveFailures: try int(7), expiresAt: try optionalInt(8), probes: try text(9) ?? "",
            override: try text(10), overrideUntil: try optionalInt(11), overrideReason: try text(12),
            openAttempts: try int(13), window: try text(14) ?? "", updatedAt: try int(15)
        ).record()
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

    /// The values of ``columns`` for `record`, as `$1 … $16`.
    static func bindings(_ record: CircuitRecord) -> PostgresBindings {
        let row = CircuitRow(record)
        var bindings = PostgresBindings(capacity: 16)
        bindings.append(row.name)
        bindings.append(row.state)
        bindings.append(row.generation)
        bindings.append(row.requests)
        bindings.append(row.successes)
        bindings.append(row.failures)
        bindings.append(row.consecutiveSuccesses)
        bindings.append(row.consecutiveFailures)
        bindings.append(row.expiresAt)
        bindings.append(row.probes)
        bindings.append(row.override)
        bindings.append(row.overrideUntil)
        bindings.append(row.overrideReason)
        bindings.append(row.openAttempts)
        bindings.append(row.window)
        bindings.append(row.updatedAt)
        return bindings
    }
}

#endif
