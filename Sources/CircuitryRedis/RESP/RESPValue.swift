#if Redis
import NIOCore

/// One reply of a Redis server in RESP2, the protocol every Redis (and Valkey) server speaks by default.
/// https://redis.io/docs/latest/develop/reference/protocol-spec/
///
/// An error reply is a value like any other: the caller decides what it means (`NOSCRIPT` is expected, `WRONGTYPE`
/// is not). Only a broken stream is an error of the connection.
package enum RESPValue: Sendable, Hashable {
    /// `+OK`.
    case simpleString(ByteBuffer)
    /// `-ERR message`: the whole line, code first.
    case error(String)
    /// `:42`.
    case integer(Int64)
    /// `$3 abc`, or `nil` for the null bulk string (`$-1`), which is how a missing key or field reads.
    case bulkString(ByteBuffer?)
    /// `*2 …`, or `nil` for the null array (`*-1`), which is how a script's `false` or a failed `EXEC` reads.
    case array([RESPValue]?)

    /// The text of a simple or bulk string; `nil` for anything else, the null bulk string included.
    package var string: String? {
        switch self {
        case .simpleString(let buffer), .bulkString(let buffer?): String(buffer: buffer)
        default: nil
        }
    }

    /// An integer reply, or a bulk string that holds a decimal integer (as `HGET` of a counter does).
    package var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .bulkString(let buffer?): buffer.withUnsafeReadableBytes { RESPDecoder.decimal($0) }
        default: nil
        }
    }

    /// The elements of an array reply; `nil` for the null array and anything else.
    package var elements: [RESPValue]? {
        if case .array(let values?) = self { return values }
        return nil
    }

    /// Whether this is the null bulk string or the null array.
    package var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }

    /// The error line of an error reply (`WRONGTYPE Operation against a key …`).
    package var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

/// Writes commands as RESP arrays of bulk strings, the only form a client sends.
package enum RESPEncoder {
    /// Appends `arguments` as one command.
    package static func write(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(arguments.count, into: &buffer)
        for argument in arguments {
            buffer.writeInteger(UInt8(ascii: "$"))
            writeDecimal(argument.utf8.count, into: &buffer)
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    private static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(value))
        buffer.writeStaticString("\r\n")
    }
}
#endif
