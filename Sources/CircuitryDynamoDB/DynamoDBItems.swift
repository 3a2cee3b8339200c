#if DynamoDB
import Circuitry

/// The items of Circuitry's table, and their mapping to ``CircuitRecord`` and ``HistoryEntry``.
///
/// One table, keyed by `pk` (string, partition key) and `sk` (number, sort key):
///
/// | item | `pk` | `sk` | attributes |
/// | --- | --- | --- | --- |
/// | a circuit | `c:<name>` | 0 | `kind` = `circuit`, the columns of the SQL stores (`name`, `state`, `generation`, `requests`, …, `updated_at`), `updated_utc`, `version`, `write_id`, `ttl` |
/// | its history | `h:<name>` | the entry's id | `kind` = `transition`, `circuit`, `at`, `at_utc`, `from_state`, `to_state`, `generation`, `reason`, `actor`, `ttl` |
/// | the log of all circuits | `log` | the entry's id | `kind` = `log`, the same as a history entry |
/// | the table's own | `meta` | 0 | `kind` = `meta`, `schema_version`, `last_history_id`, `last_write_id` |
///
/// Times are milliseconds since 1970 (`…_utc` repeats them as ISO 8601 text for people reading the console);
/// `ttl` is seconds since 1970, as DynamoDB's TTL wants.
enum DynamoDBItems {
    /// The version of this layout, in the `meta` item. A newer one is refused, never rewritten.
    static let schemaVersion: Int64 = 1

    static func recordKey(_ name: String) -> Item { ["pk": Attribute.s("c:" + name), "sk": Attribute.n(0)] }
    static func historyPartition(_ name: String) -> String { "h:" + name }
    static let logPartition = "log"
    static let metaKey: Item = ["pk": Attribute.s("meta"), "sk": Attribute.n(0)]

    /// A record as it was read: the record, the version its conditional write must find, and the token of the
    /// write that stored it.
    struct Stored: Sendable {
        var record: CircuitRecord
        var version: Int64
        var writeID: String?
    }

    /// The item that stores `record` as its `version`th write, made by the write `writeID`.
    static func item(_ record: CircuitRecord, version: Int64, writeID: String, idleExpiry: Duration?) -> Item {
        let row = CircuitRow(record)
        var item = recordKey(record.name)
        item["kind"] = Attribute.s("circuit")
        // Every column as an attribute of the same name; NULLs and empty lists are left out.
        for column in CircuitColumn.allCases {
            switch row[column] {
            case .integer(let number): item[column.name] = Attribute.n(number)
            case .text(let text) where text.isEmpty && column.isList: break
            case .text(let text): item[column.name] = Attribute.s(text)
            case .null, .unreadable: break
            }
        }
        item["updated_utc"] = Attribute.s(record.updatedAt.description)
        item["version"] = Attribute.n(version)
        item["write_id"] = Attribute.s(writeID)
        if let idleExpiry, record.state == .closed, record.override == nil {
            item["ttl"] = Attribute.n(ttl(record.updatedAt + idleExpiry))
        }
        return item
    }

    /// The record in `item`; a ``CircuitStoreError`` with code ``CircuitStoreError/Code/corrupt`` if an
    /// attribute is missing or unreadable.
    static func stored(_ item: Item, location: String) throws(CircuitStoreError) -> Stored {
        // An attribute of the wrong type is unreadable; a missing one is NULL (an empty list, for the lists).
        let row: CircuitRow
        do {
            row = try CircuitRow { column in
                guard let attribute = item[column.name] else { return .null }
                switch column.kind {
                case .integer:
                    return Attribute.integer(attribute).map(ColumnValue.integer) ?? .unreadable("\(attribute)")
                case .text: return Attribute.string(attribute).map(ColumnValue.text) ?? .unreadable("\(attribute)")
                }
            }
        } catch {
            throw CircuitStoreError(code: error.code, message: error.message, location: location)
        }
        guard let version = Attribute.integer(item["version"]) else { throw malformed("version", item, location) }
        do {
            return Stored(record: try row.record(), version: version, writeID: Attribute.string(item["write_id"]))
        } catch {
            throw CircuitStoreError(code: error.code, message: error.message, location: location)
        }
    }

    /// The item of a history entry in `partition` (the circuit's history, or the log of all).
    static func item(_ entry: HistoryEntry, partition: String, historyExpiry: Duration?) -> Item {
        let transition = entry.transition
        var item: Item = [
            "pk": Attribute.s(partition), "sk": Attribute.n(entry.id),
            "kind": Attribute.s(partition == logPartition ? "log" : "transition"),
            "circuit": Attribute.s(transition.circuit), "at": Attribute.n(transition.at.millisecondsSince1970),
            "at_utc": Attribute.s(transition.at.description), "from_state": Attribute.s(transition.from.rawValue),
            "to_state": Attribute.s(transition.to.rawValue), "generation": Attribute.n(transition.generation),
            "reason": Attribute.s(transition.reason), "actor": Attribute.s(transition.actor),
        ]
        if let historyExpiry { item["ttl"] = Attribute.n(ttl(transition.at + historyExpiry)) }
        return item
    }

    static func entry(_ item: Item, location: String) throws(CircuitStoreError) -> HistoryEntry {
        guard let id = Attribute.integer(item["sk"]), let circuit = Attribute.string(item["circuit"]),
            let at = Attribute.integer(item["at"]), let generation = Attribute.integer(item["generation"]),
            let reason = Attribute.string(item["reason"]), let actor = Attribute.string(item["actor"])
        else { throw malformed("history entry", item, location) }
        do {
            let transition = CircuitTransition(
                circuit: circuit, from: try CircuitRow.state(Attribute.string(item["from_state"])),
                to: try CircuitRow.state(Attribute.string(item["to_state"])), generation: generation,
                at: Timestamp(millisecondsSince1970: at), reason: reason, actor: actor)
            return HistoryEntry(id: id, transition: transition)
        } catch {
            throw CircuitStoreError(code: error.code, message: error.message, location: location)
        }
    }

    /// Seconds since 1970, rounded up, for DynamoDB's TTL.
    static func ttl(_ instant: Timestamp) -> Int64 {
        let (seconds, rest) = instant.millisecondsSince1970.quotientAndRemainder(dividingBy: 1000)
        return rest > 0 ? seconds + 1 : seconds
    }

    private static func malformed(_ what: String, _ item: Item, _ location: String) -> CircuitStoreError {
        let key = Attribute.string(item["pk"]) ?? "?"
        return CircuitStoreError(
            code: .corrupt, message: "the item \(key.debugDescription) has a missing or unreadable \(what)",
            location: location)
    }
}
#endif
