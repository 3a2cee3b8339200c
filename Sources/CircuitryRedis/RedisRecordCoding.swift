#if Redis
import Circuitry
import Foundation
import NIOCore

/// The mapping between a circuit's hash and ``CircuitRecord``, and between history entries and ``HistoryEntry``.
///
/// The hash has one field per column of the SQL stores' `circuits` table, with the same names and values
/// (``CircuitRow``), so that `redis-cli HGETALL '{circuitry}:circuit:send-email/t1'` reads like a row; a field of
/// a `NULL` column is absent. The `version` field is the store's own: a number that changes with every write and
/// never repeats, against which an update checks that nobody wrote in between.
enum RedisRecordCoding {
    /// The record and its version, from `HGETALL`'s flat list of fields and values; `nil` for an empty hash (no
    /// such circuit).
    static func record(_ reply: RESPValue) throws(CircuitStoreError) -> (record: CircuitRecord, version: String)? {
        guard let elements = reply.elements, elements.count.isMultiple(of: 2) else {
            throw malformed("the circuit's hash could not be read")
        }
        if elements.isEmpty { return nil }
        var fields: [String: String] = [:]
        fields.reserveCapacity(elements.count / 2)
        for index in stride(from: 0, to: elements.count, by: 2) {
            guard let field = elements[index].string, let value = elements[index + 1].string else {
                throw malformed("the circuit's hash could not be read")
            }
            fields[field] = value
        }
        func text(_ field: String) throws(CircuitStoreError) -> String {
            guard let value = fields[field] else { throw malformed("the circuit's hash has no \(field) field") }
            return value
        }
        func integer(_ field: String) throws(CircuitStoreError) -> Int64 {
            guard let value = Int64(try text(field)) else {
                throw malformed("the circuit's \(field) is not a number: \(fields[field]!.debugDescription)")
            }
            return value
        }
        func optionalInteger(_ field: String) throws(CircuitStoreError) -> Int64? {
            fields[field] == nil ? nil : try integer(field)
        }
        let row = CircuitRow(
            name: try text("name"), state: try text("state"), generation: try integer("generation"),
            requests: try integer("requests"), successes: try integer("successes"),
            failures: try integer("failures"), consecutiveSuccesses: try integer("consecutive_successes"),
            consecutiveFailures: try integer("consecutive_failures"), expiresAt: try optionalInteger("expires_at"),
            probes: fields["probes"] ?? "", override: fields["override"],
            overrideUntil: try optionalInteger("override_until"), overrideReason: fields["override_reason"],
            openAttempts: try integer("open_attempts"), window: fields["window"] ?? "",
            updatedAt: try integer("updated_at"))
        return (try row.record(), fields["version"] ?? "")
    }

    /// The fields and values of `record`'s hash, without `version` (the script adds it); absent optionals are left
    /// out.
    static func fields(_ record: CircuitRecord) -> [String] {
        let row = CircuitRow(record)
        var fields = [
            "name", row.name, "state", row.state, "generation", String(row.generation),
            "requests", String(row.requests), "successes", String(row.successes), "failures", String(row.failures),
            "consecutive_successes", String(row.consecutiveSuccesses),
            "consecutive_failures", String(row.consecutiveFailures), "probes", row.probes,
            "open_attempts", String(row.openAttempts), "window", row.window, "updated_at", String(row.updatedAt),
        ]
        if let value = row.expiresAt { fields += ["expires_at", String(value)] }
        if let value = row.override { fields += ["override", value] }
        if let value = row.overrideUntil { fields += ["override_until", String(value)] }
        if let value = row.overrideReason { fields += ["override_reason", value] }
        return fields
    }

    // MARK: History

    /// A transition as JSON with the SQL stores' column names; the script puts the id and a space before it.
    private struct Entry: Codable {
        var circuit: String
        var at: Int64
        var from: String
        var to: String
        var generation: Int64
        var reason: String
        var actor: String

        enum CodingKeys: String, CodingKey {
            case circuit, at, generation, reason, actor
            case from = "from_state"
            case to = "to_state"
        }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func payload(_ transition: CircuitTransition) -> String {
        let entry = Entry(
            circuit: transition.circuit, at: transition.at.millisecondsSince1970, from: transition.from.rawValue,
            to: transition.to.rawValue, generation: transition.generation, reason: transition.reason,
            actor: transition.actor)
        // Encoding strings and integers cannot fail.
        return String(decoding: (try? encoder.encode(entry)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// An entry as stored: `<id> <JSON>`.
    static func entry(_ value: RESPValue) throws(CircuitStoreError) -> HistoryEntry {
        guard case .bulkString(let buffer?) = value,
            let space = buffer.readableBytesView.firstIndex(of: UInt8(ascii: " ")),
            let id = Int64(
                String(buffer: buffer.getSlice(at: buffer.readerIndex, length: space - buffer.readerIndex)!)),
            let json = buffer.getSlice(at: space + 1, length: buffer.writerIndex - space - 1),
            let entry = try? JSONDecoder().decode(Entry.self, from: Data(json.readableBytesView))
        else {
            throw malformed("a history entry could not be read")
        }
        let transition = CircuitTransition(
            circuit: entry.circuit, from: try CircuitRow.state(entry.from),
            to: try CircuitRow.state(entry.to), generation: entry.generation,
            at: Timestamp(millisecondsSince1970: entry.at), reason: entry.reason, actor: entry.actor)
        return HistoryEntry(id: id, transition: transition)
    }

    static func malformed(_ what: String) -> CircuitStoreError {
        CircuitStoreError(code: .corrupt, message: what)
    }
}
#endif
