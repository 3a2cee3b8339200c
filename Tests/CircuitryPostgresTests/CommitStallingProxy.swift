#if Postgres

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on loopback between a store and the test server that can lose the server's answer to one COMMIT, as
/// a network that fails at the wrong moment would: the COMMIT reaches the server (which commits), and the answer
/// never reaches the client. Or it can lose the COMMIT itself, so that the server never commits.
///
/// Each connection is two threads copying bytes (blocking reads on threads of their own, not on the cooperative
/// pool). A COMMIT is recognised by its text in what the client sends.
final class CommitStallingProxy: Sendable {
    /// What happens to the next COMMIT a client sends.
    enum Trap: Sendable {
        /// Passed on, and everything the server sends back on that connection from then on is dropped.
        case loseAnswer
        /// Dropped, with everything else the client sends on that connection from then on.
        case loseCommit
    }

    /// The loopback port clients connect to.
    let port: Int
    private let serverPort: Int
    private let listener: Int32
    private let state = Mutex<(trap: Trap?, sprung: Int, sockets: [Int32])>((nil, 0, []))

    init(serverPort: Int) throws {
        self.serverPort = serverPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard listener >= 0, bound == 0, listen(listener, 16) == 0 else {
            throw Failure(description: "the proxy could not listen: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sets the trap for the next COMMIT on any connection.
    func arm(_ trap: Trap) {
        state.withLock { $0.trap = trap }
    }

    /// How many COMMITs the trap caught.
    var sprung: Int { state.withLock { $0.sprung } }

    /// Stops listening and closes every connection.
    func stop() {
        let sockets = state.withLock { state in
            defer { state.sockets = [] }
            return state.sockets
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: serverPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            state.withLock { $0.sockets += [client, server] }
            let connection = Connection()
            Thread { [self] in copy(from: client, to: server, connection, watchingForCommit: true) }.start()
            Thread { [self] in copy(from: server, to: client, connection, watchingForCommit: false) }.start()
        }
    }

    /// What one proxied connection is doing with its traffic.
    private final class Connection: Sendable {
        let losesAnswers = Atomic<Bool>(false)
        let losesRequests = Atomic<Bool>(false)
    }

    private func copy(from source: Int32, to destination: Int32, _ connection: Connection, watchingForCommit: Bool) {
        defer {
            // Either side closing closes both, as a broken network path would end both directions.
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(destination, Int32(SHUT_RDWR))
        }
        let commit = Array("COMMIT".utf8)
        var tail: [UInt8] = []  // the end of the previous read, for a COMMIT split across two reads
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(source, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            let chunk = Array(buffer[0..<count])
            if watchingForCommit {
                let seen = tail + chunk
                tail = Array(seen.suffix(commit.count - 1))
                if Self.contains(seen, commit), let trap = takeTrap() {
                    switch trap {
                    case .loseAnswer: connection.losesAnswers.store(true, ordering: .sequentiallyConsistent)
                    case .loseCommit: connection.losesRequests.store(true, ordering: .sequentiallyConsistent)
                    }
                }
                if connection.losesRequests.load(ordering: .sequentiallyConsistent) { continue }
            } else if connection.losesAnswers.load(ordering: .sequentiallyConsistent) {
                continue
            }
            var written = 0
            while written < chunk.count {
                let result = chunk[written...].withUnsafeBytes { write(destination, $0.baseAddress, $0.count) }
                if result < 0, errno == EINTR { continue }
                guard result > 0 else { return }
                written += result
            }
        }
    }

    /// The trap set for the next COMMIT, which this COMMIT springs.
    private func takeTrap() -> Trap? {
        state.withLock { state in
            let trap = state.trap
            if trap != nil {
                state.trap = nil
                state.sprung += 1
            }
            return trap
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains {
            haystack[$0..<($0 + needle.count)].elementsEqual(needle)
        }
    }
}

#endif
