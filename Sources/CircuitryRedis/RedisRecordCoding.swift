#if Redis
import Circuitry
import Foundation
import NIOCore

/// The mapping between a circuit's hash and ``CircuitRecord``, and between history entries and ``HistoryEntry``.
///
/// The hash has one field per ``CircuitColumn``, with the SQL stores' column names and values (``CircuitRow``), so
/// that `redis-cli HGETALL '{circuitry}:circuit:send-email/t1'` reads like a row; a field of a `NULL` column is
/// absent. The `version` field is the store's own: a number that changes with every write and
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
        // Hash fields are text: an integer column's field must read as one; an absent field is NULL.
        let row = try CircuitRow(reading: { column throws(CircuitStoreError) -> ColumnValue in
            guard let text = fields[column.name] else { return .null }
            switch column.kind {
            case .text: return .text(text)
            case .integer: return Int64(text).map(ColumnValue.integer) ?? .unreadable(text.debugDescription)
            }
        })
        return (try row.record(), fields["version"] ?? "")
    }

    /// The fields and values of `record`'s hash, one per column, without `version` (the script adds it); the field of
    /// a NULL column is left out.
    static func fields(_ record: CircuitRecord) -> [String] {
        let row = CircuitRow(record)
        var fields: [String] = []
        fields.reserveCapacity(2 * CircuitColumn.allCases.count)
        for column in CircuitColumn.allCases {
            switch row[column] {
            case .null, .unreadable: continue
            case .integer(let value): fields += [column.name, String(value)]
            case .text(let value): fields += [column.name, value]
            }
        }
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
