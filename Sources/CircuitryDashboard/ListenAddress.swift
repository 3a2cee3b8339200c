#if Dashboard
/// Where `circuitry serve` listens: `--listen HOST:PORT`, as in `127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:8080` or
/// `localhost:0` (port 0: any free port, printed once listening).
package struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The host: an IPv4 or IPv6 address (without brackets), or a name.
    package var host: String
    /// The port; 0 for any free one.
    package var port: Int

    /// Reads `HOST:PORT`; an IPv6 address is written in brackets.
    package init(parsing text: String) throws(DashboardError) {
        func bad(_ why: String) -> DashboardError {
            DashboardError(
                status: 400, code: "bad-listen",
                message: "--listen \"\(text)\": \(why); expected HOST:PORT, "
                    + "as in 127.0.0.1:8080 or [::1]:8080")
        }
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw bad("an IPv6 address in brackets must be followed by :PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw bad("no port") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { throw bad("write an IPv6 address in brackets") }
        }
        guard !hostPart.isEmpty else { throw bad("no host") }
        guard !portPart.isEmpty, portPart.allSatisfy(\.isASCII), portPart.allSatisfy(\.isNumber), portPart.count <= 5,
            let port = Int(portPart), port <= 65535
        else { throw bad("the port must be a number from 0 to 65535") }
        host = String(hostPart)
        self.port = port
    }

    /// `HOST:PORT`, with an IPv6 address in brackets.
    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this host's processes can connect: an address of the loopback interface (`127.0.0.0/8`,
    /// `::1`, `::ffff:127.x.y.z`) or the name `localhost`. Every other address (`0.0.0.0` and `::` included, which
    /// listen on every interface) and every other name is beyond loopback.
    package var isLoopback: Bool { Self.isLoopback(host: host) }

    /// Whether `host` (an address without brackets, or a name) names this host's loopback interface.
    package static func isLoopback(host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        let v4 = lowered.hasPrefix("::ffff:") ? String(lowered.dropFirst(7)) : lowered
        let parts = v4.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4,
            parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            parts.allSatisfy({ Int($0)! <= 255 })
        else { return false }
        return parts[0] == "127"
    }
}
#endif
