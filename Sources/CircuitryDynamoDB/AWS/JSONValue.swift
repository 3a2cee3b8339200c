#if DynamoDB
import Foundation

/// A JSON document, as DynamoDB's JSON protocol sends and receives it.
///
/// Numbers are integers (counts, limits, capacities); DynamoDB's own numbers travel as strings inside `{"N": …}`.
enum JSONValue: Sendable, Hashable, Codable {
    case string(String)
    case integer(Int64)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members[key]
    }

    var string: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .double(let value): Int64(exactly: value)
        default: nil
        }
    }

    var array: [JSONValue]? {
        guard case .array(let value) = self else { return nil }
        return value
    }

    var object: [String: JSONValue]? {
        guard case .object(let value) = self else { return nil }
        return value
    }

    /// The document as compact JSON with sorted keys (stable, so that a retried request is the same bytes).
    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every case encodes: strings, integers, finite doubles, arrays and objects of those.
        return Array((try? encoder.encode(self)) ?? Data("null".utf8))
    }

    static func decode(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }
}

/// A DynamoDB item: attribute names and their typed values (`{"S": "…"}`, `{"N": "…"}`).
typealias Item = [String: JSONValue]

/// Typed attribute values in DynamoDB's JSON form.
/// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html
enum Attribute {
    static func s(_ value: String) -> JSONValue { .object(["S": .string(value)]) }
    static func n(_ value: Int64) -> JSONValue { .object(["N": .string(String(value))]) }

    /// The string of an `S` attribute.
    static func string(_ value: JSONValue?) -> String? { value?["S"]?.string }

    /// The integer of an `N` attribute; `nil` if absent or not a 64-bit integer.
    static func integer(_ value: JSONValue?) -> Int64? { value?["N"]?.string.flatMap { Int64($0) } }
}
#endif
