#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ports of 127.0.0.1 for the servers the tests start: one home for finding a free one.
package enum LoopbackPort {
    /// Why no port could be had.
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    /// A port that was free a moment ago: bound to 127.0.0.1:0 and released.
    package static func free() throws -> Int {
        let (socket, port) = try boundSocket()
        close(socket)
        return port
    }

    /// A socket bound to a free port of 127.0.0.1 and not listening, and that port: connections to it are refused
    /// for as long as the caller keeps it (and closes it).
    package static func boundSocket() throws -> (socket: Int32, port: Int) {
        #if canImport(Glibc)
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let socket = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard socket >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else {
            let error = errno
            close(socket)
            throw Failure(description: "could not find a free port: errno \(error)")
        }
        return (socket, Int(UInt16(bigEndian: address.sin_port)))
    }
}
