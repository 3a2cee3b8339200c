#if Redis
import NIOCore

/// A stream the client cannot read: the connection is closed, since every later reply would be misread.
struct RESPProtocolError: Error, CustomStringConvertible {
    var description: String
}

/// Cuts RESP2 replies out of the byte stream, one ``RESPValue`` each.
///
/// An incomplete reply leaves the buffer as it was and waits for more bytes; a reply nested more than a few levels
/// deep, a negative length other than -1, a bulk string over 512 MiB (Redis's own limit) or an unknown type byte
/// (RESP3, which this client never asks for) is a ``RESPProtocolError``.
struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = RESPValue

    /// Redis's `proto-max-bulk-len`.
    static let maximumBulkLength = 512 * 1024 * 1024
    /// Our replies nest two levels at most (an array of `HGETALL` replies); anything deeper is a stream gone wrong.
    static let maximumDepth = 8

    mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        let start = buffer.readerIndex
        guard let value = try Self.value(&buffer, depth: 0) else {
            buffer.moveReaderIndex(to: start)
            return nil
        }
        return value
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try decode(buffer: &buffer)
    }

    /// One value, or `nil` if the buffer does not hold all of it yet (the reader index is then wherever it got to).
    private static func value(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return try line(&buffer).map { .simpleString($0) }
        case UInt8(ascii: "-"):
            return try line(&buffer).map { .error(String(buffer: $0)) }
        case UInt8(ascii: ":"):
            guard let text = try line(&buffer) else { return nil }
            return .integer(try integer(text))
        case UInt8(ascii: "$"):
            guard let text = try line(&buffer) else { return nil }
            let length = try integer(text)
            if length == -1 { return .bulkString(nil) }
            guard (0...Int64(maximumBulkLength)).contains(length) else {
                throw RESPProtocolError(description: "a bulk string of length \(length)")
            }
            guard buffer.readableBytes >= Int(length) + 2, let bytes = buffer.readSlice(length: Int(length)) else {
                return nil
            }
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else {
                throw RESPProtocolError(description: "a bulk string not followed by CRLF")
            }
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let text = try line(&buffer) else { return nil }
            let count = try integer(text)
            if count == -1 { return .array(nil) }
            guard depth < maximumDepth else { throw RESPProtocolError(description: "arrays nested too deeply") }
            // Each element takes at least 3 bytes (`:0\r\n` is 4): a count beyond what could ever arrive is a
            // broken stream, not a reason to reserve memory.
            guard (0...Int64(maximumBulkLength / 3)).contains(count) else {
                throw RESPProtocolError(description: "an array of \(count) elements")
            }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(Int(count), buffer.readableBytes / 3))
            for _ in 0..<count {
                guard let element = try value(&buffer, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw RESPProtocolError(description: "an unknown reply type byte \(type)")
        }
    }

    /// The bytes up to the next CRLF (which is consumed), or `nil` if there is no CRLF yet.
    private static func line(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")), cr + 1 < view.endIndex else { return nil }
        guard view[cr + 1] == UInt8(ascii: "\n") else { throw RESPProtocolError(description: "a CR without LF") }
        let length = cr - view.startIndex
        let text = buffer.readSlice(length: length)
        buffer.moveReaderIndex(forwardBy: 2)
        return text
    }

    private static func integer(_ text: ByteBuffer) throws -> Int64 {
        guard let value = text.withUnsafeReadableBytes({ decimal($0) }) else {
            throw RESPProtocolError(description: "an unreadable integer \(String(buffer: text).debugDescription)")
        }
        return value
    }

    /// A decimal integer with an optional minus sign, or `nil` (also on overflow).
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var index = bytes.startIndex
        let negative = index < bytes.endIndex && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.endIndex, bytes.endIndex - index <= 19 else { return nil }
        var value: Int64 = 0
        while index < bytes.endIndex {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) =
                negative
                ? times.subtractingReportingOverflow(Int64(digit)) : times.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            index += 1
        }
        return value
    }
}
#endif
