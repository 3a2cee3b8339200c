#if Dashboard
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 client over a TCP socket: the tests choose every header (`Host` included), read a streamed body
/// as it comes, and never block a thread of the cooperative pool (reads poll without waiting, then sleep briefly).
final class HTTPConnection {
    /// A complete response.
    struct Response: CustomStringConvertible {
        var status: Int
        var headers: [String: String]
        var body: String

        /// The body as a JSON object.
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }

        var description: String { "HTTP \(status) \(headers) \(body)" }
    }

    /// A server-sent event.
    struct Event: Equatable {
        var id: String?
        var event: String?
        var data: String
    }

    private let descriptor: Int32
    private var received: [UInt8] = []
    private var closed = false

    /// Connects to `host:port` (an IPv4 address).
    init(host: String, port: Int) throws {
        #if canImport(Glibc)
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw HTTPClientError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw HTTPClientError("bad address \(host)") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw HTTPClientError("connect to \(host):\(port): errno \(errno)")
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(descriptor) }

    /// Sends a request. `Host` is `hostHeader`; `Content-Length` is added for a body.
    func send(
        _ method: String, _ path: String, hostHeader: String, headers: [String: String] = [:], body: String? = nil
    ) throws {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EAGAIN { continue }
                throw HTTPClientError("write: errno \(errno)")
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Reads what has arrived; waits (5 ms at a time) until something has, or `deadline`. Returns false at the end
    /// of the stream or the deadline.
    private func fill(until deadline: ContinuousClock.Instant) async throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            if closed { return false }
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                received += chunk[..<count]
                return true
            }
            if count == 0 {
                closed = true
                return false
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { throw HTTPClientError("read: errno \(errno)") }
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Takes a line (without CRLF) from what has arrived, reading more as needed.
    private func line(until deadline: ContinuousClock.Instant) async throws -> String? {
        while true {
            if let end = received.indices.dropLast().first(where: { received[$0] == 13 && received[$0 + 1] == 10 }) {
                let line = String(decoding: received[..<end], as: UTF8.self)
                received.removeFirst(end + 2)
                return line
            }
            guard try await fill(until: deadline) else { return nil }
        }
    }

    private func bytes(_ count: Int, until deadline: ContinuousClock.Instant) async throws -> [UInt8]? {
        while received.count < count {
            guard try await fill(until: deadline) else { return nil }
        }
        let taken = Array(received[..<count])
        received.removeFirst(count)
        return taken
    }

    private var chunked = false
    private var bodyLeft: Int?
    /// The body bytes received and not yet handed out as events.
    private var bodyBuffer: [UInt8] = []

    /// Reads the status line and the headers.
    func readHead(timeout: Duration = .seconds(10)) async throws -> (status: Int, headers: [String: String]) {
        let deadline = ContinuousClock.now + timeout
        guard let statusLine = try await line(until: deadline) else { throw HTTPClientError("no response") }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw HTTPClientError("bad status \(statusLine)") }
        var headers: [String: String] = [:]
        while let header = try await line(until: deadline), !header.isEmpty {
            guard let colon = header.firstIndex(of: ":") else { continue }
            headers[header[..<colon].lowercased()] = header[header.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        chunked = headers["transfer-encoding"]?.lowercased() == "chunked"
        bodyLeft = headers["content-length"].flatMap { Int($0) }
        return (status, headers)
    }

    /// Reads more of the body into `bodyBuffer`; false at its end or the deadline.
    private func readBody(until deadline: ContinuousClock.Instant) async throws -> Bool {
        if chunked {
            guard let sizeLine = try await line(until: deadline) else { return false }
            guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                throw HTTPClientError("bad chunk size \(sizeLine)")
            }
            if size == 0 {
                _ = try await line(until: deadline)
                return false
            }
            guard let data = try await bytes(size, until: deadline) else { return false }
            _ = try await line(until: deadline)
            bodyBuffer += data
            return true
        }
        if let left = bodyLeft {
            guard left > 0, let data = try await bytes(left, until: deadline) else { return false }
            bodyLeft = 0
            bodyBuffer += data
            return true
        }
        if !received.isEmpty {
            bodyBuffer += received
            received.removeAll()
            return true
        }
        guard try await fill(until: deadline) else { return false }
        return true
    }

    /// Reads a whole response.
    func readResponse(timeout: Duration = .seconds(10)) async throws -> Response {
        let deadline = ContinuousClock.now + timeout
        let head = try await readHead(timeout: timeout)
        while try await readBody(until: deadline) {}
        let body = String(decoding: bodyBuffer, as: UTF8.self)
        bodyBuffer.removeAll()
        return Response(status: head.status, headers: head.headers, body: body)
    }

    /// The next event or comment block of a `text/event-stream` body: `nil` if none came by the deadline. A comment
    /// block (`: keep-alive`) is an event with `event` `":"` and the comment as its data.
    func nextEvent(timeout: Duration) async throws -> Event? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let end = bodyBuffer.indices.dropLast().first(where: { bodyBuffer[$0] == 10 && bodyBuffer[$0 + 1] == 10 }
            ) {
                let block = String(decoding: bodyBuffer[..<end], as: UTF8.self)
                bodyBuffer.removeFirst(end + 2)
                var event = Event(id: nil, event: nil, data: "")
                var data: [String] = []
                var comments: [String] = []
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix(":") {
                        comments.append(line.dropFirst().trimmingCharacters(in: .whitespaces))
                    } else if line.hasPrefix("id: ") {
                        event.id = String(line.dropFirst(4))
                    } else if line.hasPrefix("event: ") {
                        event.event = String(line.dropFirst(7))
                    } else if line.hasPrefix("data: ") {
                        data.append(String(line.dropFirst(6)))
                    }
                }
                if event.event == nil, data.isEmpty, event.id == nil, !comments.isEmpty {
                    return Event(id: nil, event: ":", data: comments.joined(separator: "\n"))
                }
                event.data = data.joined(separator: "\n")
                if event.event == nil, data.isEmpty, event.id == nil { continue }  // retry: only
                return event
            }
            guard try await readBody(until: deadline) else { return nil }
        }
    }
}

struct HTTPClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
#endif
