#if Redis
import Circuitry
import Foundation

extension RedisCircuitStore {
    /// Where the server is and how the store talks to it. Every process that shares circuits must use the same
    /// server, ``database`` and ``keyPrefix``.
    ///
    /// Most users write a URL: `redis://[user[:password]@]host[:port][/database][?prefix=jobs]`, or `rediss://…`
    /// for TLS.
    public struct Configuration: Sendable {
        /// How the server's certificate is checked on a TLS connection (`rediss://`).
        public enum CertificateVerification: String, Sendable, Hashable, CaseIterable {
            /// Signed by a trusted authority and issued for ``host`` (`ssl_cert_reqs=required`, the default).
            case full
            /// Signed by a trusted authority; the host name is not checked (`ssl_check_hostname=false`).
            case noHostname
            /// Not checked at all (`ssl_cert_reqs=none`): encrypted, but open to a man in the middle.
            case none
        }

        /// The server's host name or IP address.
        public var host: String
        /// The server's TCP port. Default 6379.
        public var port: Int
        /// The ACL user (`AUTH user password`); `nil` authenticates as the default user (`AUTH password`) or not
        /// at all.
        public var username: String?
        /// The password, if the server asks for one. Never part of ``location``, of an error or of a log line.
        public var password: String?
        /// The database number (`SELECT`). Default 0. Redis Cluster has database 0 only.
        public var database: Int
        /// Whether connections use TLS (`rediss://`). Default: off.
        public var tls: Bool
        /// How the server's certificate is checked when ``tls`` is on. Default ``CertificateVerification/full``.
        public var certificateVerification: CertificateVerification
        /// A PEM file of the authorities that certificates must be signed by (`ssl_ca_certs`); `nil` trusts the
        /// system's.
        public var rootCertificatePath: String?
        /// Put before every key, inside a hash tag: `{circuitry}:circuit:send-email/t1`. Applications that share a
        /// server use different prefixes. 1–64 printable characters without `{` or `}`. Default `circuitry`.
        public var keyPrefix: String
        /// The most connections this process opens to the server. Connections are shared by pipelining, so one is
        /// enough for most processes. Default 2.
        public var maximumConnections: Int
        /// The longest a new connection may take to open, handshake and `AUTH` included. Default 5 s.
        public var connectTimeout: Duration
        /// The longest one store operation may take in all: opening a connection if needed, the round trips, the
        /// retries of an update that lost a race, and waiting for this process's other updates of the same
        /// circuit. Past it the operation fails with ``CircuitStoreError/Code/busy`` or a connection error.
        /// Default 2 s.
        public var operationTimeout: Duration
        /// The most attempts of one update whose circuit other processes keep changing between its read and its
        /// write. Default 64. Each retry waits a random time of up to 0.2 ms × 2^retry, at most 10 ms, but for an
        /// update that holds the circuit's turn (it has lost four times and is the oldest to have), which retries
        /// at once and cannot lose to a newer update.
        public var maximumUpdateAttempts: Int
        /// How many transitions of each circuit the history keeps. Default 100.
        public var historyLimit: Int
        /// Shown in `CLIENT LIST` (`CLIENT SETNAME`). Default `circuitry`.
        public var clientName: String
        /// Whether the store marks a prefix that has no Circuitry keys as its own (`{prefix}:meta`). Default `true`.
        /// With `false`, such a prefix is refused with ``CircuitStoreError/Code/missing`` and nothing is written: for
        /// programs that only read or operate existing circuits, where a mistyped prefix or database number must not
        /// look like an empty set of circuits.
        public var createsKeys: Bool

        /// Creates a configuration for a server at `host`.
        public init(
            host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = false
            self.certificateVerification = .full
            self.rootCertificatePath = nil
            self.keyPrefix = "circuitry"
            self.maximumConnections = 2
            self.connectTimeout = .seconds(5)
            self.operationTimeout = .seconds(2)
            self.maximumUpdateAttempts = 64
            self.historyLimit = 100
            self.clientName = "circuitry"
            self.createsKeys = true
        }

        /// Whether `text` is meant as a Redis URL: it starts with `redis://` or `rediss://`, in any case. Tools
        /// that take a SQLite path or a URL in one argument decide with this; ``init(url:)`` then says what is
        /// wrong with a URL that does not parse.
        public static func isURL(_ text: String) -> Bool {
            let lowered = text.prefix(9).lowercased()
            return lowered.hasPrefix("redis://") || lowered.hasPrefix("rediss://")
        }

        /// Reads a URL: `redis://[user[:password]@]host[:port][/database][?parameters]`, or `rediss://` for TLS.
        ///
        /// User and password are percent-decoded (`redis://:s3cret@host` has a password and no user). Parameters:
        /// `prefix` (``keyPrefix``), `connect_timeout` and `operation_timeout` (seconds, fractions allowed),
        /// `max_connections`, `client_name`, and for TLS, as redis-py names them, `ssl_cert_reqs` (`required` or
        /// `none`), `ssl_check_hostname` (`true` or `false`) and `ssl_ca_certs` (a PEM file). Anything else is
        /// refused, so that a misspelt parameter is not silently ignored.
        public init(url: String) throws(ConfigurationError) {
            guard let components = URLComponents(string: url),
                let scheme = components.scheme?.lowercased(), scheme == "redis" || scheme == "rediss"
            else {
                throw ConfigurationError(
                    setting: "url",
                    message:
                        "expected redis://[user[:password]@]host[:port][/database], got \(PasswordRedaction.redacting(url))"
                )
            }
            // What could be a password must be the password: an `@`, `?`, `#` or `/` left unescaped in it would put a
            // piece of it in the host, the database or a parameter, which locations and messages show.
            let hidden = PasswordRedaction.hiddenParts(of: url)
            guard hidden.isEmpty || hidden == [components.percentEncodedPassword ?? ""] else {
                throw ConfigurationError(
                    setting: "url",
                    message: "malformed URL: percent-encode @ : / ? # and % in a password, and give it only as in "
                        + "redis://user:password@host: " + PasswordRedaction.redacting(url))
            }
            guard let host = components.host, !host.isEmpty else {
                throw ConfigurationError(
                    setting: "url", message: "the URL names no host: \(PasswordRedaction.redacting(url))")
            }
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            var database = 0
            if !path.isEmpty {
                guard let number = Int(path) else {
                    throw ConfigurationError.invalidSetting("database", path.debugDescription, expected: "a number")
                }
                database = number
            }
            let user = components.user?.removingPercentEncoding
            // URLComponents keeps brackets around an IPv6 literal; the socket address wants it bare.
            let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            self.init(
                host: bareHost, port: components.port ?? 6379, username: user?.isEmpty == true ? nil : user,
                password: components.password?.removingPercentEncoding, database: database)
            tls = scheme == "rediss"
            for item in components.queryItems ?? [] {
                try apply(item.name, item.value ?? "")
            }
            try validate()
        }

        private mutating func apply(_ name: String, _ value: String) throws(ConfigurationError) {
            switch name {
            case "prefix":
                keyPrefix = value
            case "connect_timeout":
                connectTimeout = try Self.seconds(name, value)
            case "operation_timeout":
                operationTimeout = try Self.seconds(name, value)
            case "max_connections":
                guard let count = Int(value) else {
                    throw ConfigurationError.invalidSetting(name, value.debugDescription, expected: "a number")
                }
                maximumConnections = count
            case "client_name":
                clientName = value
            case "ssl_cert_reqs":
                switch value.lowercased() {
                case "required": certificateVerification = .full
                case "none": certificateVerification = .none
                default:
                    throw ConfigurationError.invalidSetting(name, value.debugDescription, expected: "required or none")
                }
            case "ssl_check_hostname":
                switch value.lowercased() {
                case "true": if certificateVerification == .noHostname { certificateVerification = .full }
                case "false": if certificateVerification == .full { certificateVerification = .noHostname }
                default:
                    throw ConfigurationError.invalidSetting(name, value.debugDescription, expected: "true or false")
                }
            case "ssl_ca_certs":
                rootCertificatePath = value
            default:
                throw ConfigurationError(
                    setting: "url", message: "unknown connection parameter \(name.debugDescription)")
            }
        }

        private static func seconds(_ name: String, _ value: String) throws(ConfigurationError) -> Duration {
            guard let seconds = Double(value), seconds > 0, seconds <= 86_400 else {
                throw ConfigurationError.invalidSetting(name, value.debugDescription, expected: "a number of seconds")
            }
            return .milliseconds(Int64((seconds * 1000).rounded(.up)))
        }

        /// The server as `redis://user@host:port/database`, without the password: for logs and errors.
        public var location: String {
            var text = tls ? "rediss://" : "redis://"
            if let username { text += "\(username)@" }
            text += host.contains(":") ? "[\(host)]" : host
            text += ":\(port)/\(database)"
            if keyPrefix != "circuitry" { text += "?prefix=\(keyPrefix)" }
            return text
        }

        /// Throws a ``ConfigurationError`` for a setting out of range or a key prefix that could break the keys.
        public func validate() throws(ConfigurationError) {
            guard (1...65535).contains(port) else {
                throw ConfigurationError.invalidSetting("port", "\(port)", expected: "1...65535")
            }
            guard database >= 0 else {
                throw ConfigurationError.invalidSetting("database", "\(database)", expected: "0 or more")
            }
            guard (1...64).contains(maximumConnections) else {
                throw ConfigurationError.invalidSetting(
                    "maximumConnections", "\(maximumConnections)", expected: "1...64")
            }
            guard connectTimeout > .zero, operationTimeout > .zero else {
                throw ConfigurationError(
                    setting: "timeouts", message: "connectTimeout and operationTimeout must be positive")
            }
            guard (1...1000).contains(maximumUpdateAttempts) else {
                throw ConfigurationError.invalidSetting(
                    "maximumUpdateAttempts", "\(maximumUpdateAttempts)", expected: "1...1000")
            }
            guard historyLimit >= 1 else {
                throw ConfigurationError.invalidSetting("historyLimit", "\(historyLimit)", expected: "at least 1")
            }
            // The prefix becomes the hash tag of every key: a brace would end the tag early (or start another one)
            // and put keys of one store in different slots; control characters and spaces make keys that
            // operators cannot type.
            let allowed = { (scalar: Unicode.Scalar) in
                scalar.value > 0x20 && scalar.value != 0x7F && scalar != "{" && scalar != "}"
                    && scalar.properties.generalCategory != .control
            }
            guard (1...64).contains(keyPrefix.utf8.count), keyPrefix.unicodeScalars.allSatisfy(allowed) else {
                throw ConfigurationError.invalidSetting(
                    "keyPrefix", keyPrefix.debugDescription,
                    expected: "1 to 64 bytes of printable characters without spaces, { or }")
            }
            guard !clientName.isEmpty, clientName.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
            else {
                throw ConfigurationError.invalidSetting(
                    "clientName", clientName.debugDescription, expected: "printable ASCII without spaces")
            }
        }
    }
}
#endif
