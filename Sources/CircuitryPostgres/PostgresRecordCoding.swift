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
        let override: CircuitOverride?
        switch try text(10) {
        case nil: override = nil
        case "forced-open":
            override = .forcedOpen(
                until: try optionalInt(11).map { Timestamp(millisecondsSince1970: $0) }, reason: try text(12))
        case "forced-closed": override = .forcedClosed(reason: try text(12))
        case let other?: throw malformed("override \(other.debugDescription)")
        }
        return CircuitRecord(
            name: name,
            state: try state(try text(1)),
            generation: try int(2),
            counts: CircuitCounts(
                requests: try int(3), successes: try int(4), failures: try int(5),
                consecutiveSuccesses: try int(6), consecutiveFailures: try int(7)),
            expiresAt: try optionalInt(8).map { Timestamp(millisecondsSince1970: $0) },
            probes: try probes(try text(9) ?? ""),
            override: override,
            openAttempts: try int(13),
            window: try window(try text(14) ?? ""),
            updatedAt: Timestamp(millisecondsSince1970: try int(15)))
    }

    static func entry(_ row: PostgresRandomAccessRow) throws -> HistoryEntry {
        let transition = CircuitTransition(
            circuit: try row[1].decode(String.self),
            from: try state(try row[3].decode(String.self)),
            to: try state(try row[4].decode(String.self)),
            generation: try row[5].decode(Int64.self),
            at: Timestamp(millisecondsSince1970: try row[2].decode(Int64.self)),
            reason: try row[6].decode(String.self),
            actor: try row[7].decode(String.self))
        return HistoryEntry(id: try row[0].decode(Int64.self), transition: transition)
    }

    /// The values of ``columns`` for `record`, as `$1 … $16`.
    static func bindings(_ record: CircuitRecord) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 16)
        bindings.append(record.name)
        bindings.append(record.state.rawValue)
        bindings.append(record.generation)
        bindings.append(record.counts.requests)
        bindings.append(record.counts.successes)
        bindings.append(record.counts.failures)
        bindings.append(record.counts.consecutiveSuccesses)
        bindings.append(record.counts.consecutiveFailures)
        bindings.append(record.expiresAt?.millisecondsSince1970)
        bindings.append(record.probes.map { "\($0.id)@\($0.deadline.millisecondsSince1970)" }.joined(separator: ","))
        switch record.override {
        case nil:
            bindings.append(String?.none)
            bindings.append(Int64?.none)
            bindings.append(String?.none)
        case .forcedOpen(let until, let reason):
            bindings.append("forced-open")
            bindings.append(until?.millisecondsSince1970)
            bindings.append(reason)
        case .forcedClosed(let reason):
            bindings.append("forced-closed")
            bindings.append(Int64?.none)
            bindings.append(reason)
        }
        bindings.append(record.openAttempts)
        bindings.append(
            record.window.map { "\($0.start.millisecondsSince1970):\($0.calls):\($0.failures):\($0.slowCalls)" }
                .joined(separator: ","))
        bindings.append(record.updatedAt.millisecondsSince1970)
        return bindings
    }

    private static func window(_ text: String) throws -> [WindowBucket] {
        guard !text.isEmpty else { return [] }
        return try text.split(separator: ",").map { item in
            let fields = item.split(separator: ":").compactMap { Int64($0) }
            guard fields.count == 4 else { throw malformed("rate-window bucket \(String(item).debugDescription)") }
            return WindowBucket(
                start: Timestamp(millisecondsSince1970: fields[0]), calls: fields[1], failures: fields[2],
                slowCalls: fields[3])
        }
    }

    private static func state(_ text: String?) throws -> CircuitState {
        guard let text, let state = CircuitState(rawValue: text) else {
            throw malformed("state \(text?.debugDescription ?? "NULL")")
        }
        return state
    }

    private static func probes(_ text: String) throws -> [ProbeLease] {
        guard !text.isEmpty else { return [] }
        return try text.split(separator: ",").map { item in
            let parts = item.split(separator: "@")
            guard parts.count == 2, let id = Int64(parts[0]), let deadline = Int64(parts[1]) else {
                throw malformed("probe lease \(String(item).debugDescription)")
            }
            return ProbeLease(id: id, deadline: Timestamp(millisecondsSince1970: deadline))
        }
    }

    private static func malformed(_ what: String) -> CircuitStoreError {
        CircuitStoreError(code: .corrupt, message: "a row of the circuits table has an unreadable \(what)")
    }
}
