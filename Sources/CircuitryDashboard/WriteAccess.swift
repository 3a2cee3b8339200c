#if Dashboard
/// Who may trip, close and reset circuits through `circuitry serve`'s POST requests.
///
/// - `--read-only`: nobody (403).
/// - With a token (`--token`, `CIRCUITRY_TOKEN`, `--token-file`): a request whose `Authorization` header is
///   `Bearer <token>` (401 otherwise), wherever the server listens.
/// - Without one, which only a loopback address allows: a request whose `Host` names the loopback interface. A page
///   of another site that the operator's browser opens can make it send requests to `127.0.0.1`, but the `Host` of a
///   name that resolves there (DNS rebinding) is that name, and is refused; and a POST must carry a JSON body
///   (`Content-Type: application/json`), which a browser sends across sites only after a CORS preflight that the
///   server never grants.
///
/// The token is compared in constant time and never appears in a message or a log.
package struct WriteAccess: Sendable, CustomStringConvertible, CustomReflectable {
    /// Whether writes are refused.
    package var readOnly: Bool
    private var token: [UInt8]?

    /// The rule for a server listening on `address`. A server beyond loopback that allows writes needs a token.
    package init(readOnly: Bool, token: String?, listening address: ListenAddress) throws(DashboardError) {
        if let token, token.isEmpty {
            throw DashboardError(status: 400, code: "bad-token", message: "the token is empty")
        }
        if !readOnly, token == nil, !address.isLoopback {
            throw DashboardError(
                status: 400, code: "token-needed",
                message: "listening on \(address), beyond loopback, writes need a token: pass --token-file FILE or set "
                    + "CIRCUITRY_TOKEN, or pass --read-only")
        }
        self.readOnly = readOnly
        self.token = token.map { Array($0.utf8) }
    }

    /// Whether a token is required.
    package var needsToken: Bool { token != nil }

    /// The rule without the token: `WriteAccess(read-only)`, `WriteAccess(token)`, `WriteAccess(loopback Host)`. The
    /// services' logs print the values they are made of.
    package var description: String {
        "WriteAccess(" + (readOnly ? "read-only" : token != nil ? "token" : "loopback Host") + ")"
    }

    /// A reflection without the token, for `dump` and `String(reflecting:)`.
    package var customMirror: Mirror { Mirror(self, children: ["rule": description]) }

    /// Refuses a write request that this rule does not allow.
    /// - Parameters:
    ///   - authorization: the request's `Authorization` header.
    ///   - host: the request's `Host` header.
    package func check(authorization: String?, host: String?) throws(DashboardError) {
        if readOnly {
            throw DashboardError(status: 403, code: "read-only", message: "this server is read-only (--read-only)")
        }
        if let token {
            let prefix = "Bearer "
            guard let authorization, authorization.hasPrefix(prefix),
                Self.constantTimeEqual(Array(authorization.dropFirst(prefix.count).utf8), token)
            else {
                throw DashboardError(
                    status: 401, code: "unauthorized",
                    message: "writes need the server's token: Authorization: Bearer <token>")
            }
            return
        }
        guard let host, ListenAddress.isLoopback(host: Self.hostName(ofHeader: host)) else {
            throw DashboardError(
                status: 403, code: "forbidden-host",
                message: "without a token, writes are accepted only for a loopback Host (127.0.0.1, [::1], localhost)")
        }
    }

    /// The name or address of a `Host` header, without its port and brackets.
    static func hostName(ofHeader header: String) -> String {
        if header.hasPrefix("["), let close = header.firstIndex(of: "]") {
            return String(header[header.index(after: header.startIndex)..<close])
        }
        if let colon = header.lastIndex(of: ":") { return String(header[..<colon]) }
        return header
    }

    /// Equality that takes the same time wherever the first difference is.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
#endif
