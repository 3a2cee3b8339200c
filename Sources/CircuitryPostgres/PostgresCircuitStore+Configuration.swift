#if Postgres

import Circuitry
import Foundation

extension PostgresCircuitStore {
    /// Where the server is and how the store talks to it. Every process that shares circuits must use the same
    /// database, ``schema`` and ``tablePrefix``.
    ///
    /// Most users write a URL: `postgres://user[:password]@host[:port]/database[?sslmode=require]`.
    public struct Configuration: Sendable {
        /// How the connection is encrypted, with libpq's `sslmode` names.
        /// https://www.postgresql.org/docs/15/libpq-ssl.html#LIBPQ-SSL-PROTECTION
        public enum TLSMode: String, Sendable, Hashable, CaseIterable {
            /// Plain TCP.
            case disable
            /// TLS if the server offers it, plain TCP otherwise; the certificate is not checked.
            case prefer
            /// TLS, or no connection; the certificate is not checked.
            case require
            /// TLS with a certificate signed by a trusted authority; the host name is not checked.
            case verifyCA = "verify-ca"
            /// TLS with a certificate signed by a trusted authority and issued for ``host``.
            case verifyFull = "verify-full"
        }

        /// The server's host name or IP address.
        public var host: String
        /// The server's TCP port. Default 5432.
        public var port: Int
        /// The role to connect as.
        public var username: String
        /// The password, if the server asks for one. Never part of ``location`` or of an error.
        public var password: String?
        /// The database. Default: the same as ``username`` (as with libpq).
        public var database: String
        /// TLS. Default: ``TLSMode/disable`` on a loopback host, ``TLSMode/prefer`` elsewhere.
        public var tls: TLSMode
        /// A PEM file of the authorities that ``TLSMode/verifyCA`` and ``TLSMode/verifyFull`` trust (`sslrootcert`);
        /// `nil` trusts the system's.
        public var rootCertificatePath: String?
        /// The schema that holds the tables; created if missing. Default `public`.
        public var schema: String
        /// Put before every table and view name, so that several sets of circuits can share one schema. Default empty.
        public var tablePrefix: String
        /// The most connections this process opens to the server. Each store operation holds one for a few round
        /// trips. Default 4.
        public var maximumConnections: Int
        /// The longest a new connection may take to open. Default 5 s; at most a day.
        public var connectTimeout: Duration
        /// The longest one store operation may take in all: waiting for a pooled connection, waiting for another
        /// process's row lock, and the round trips. Past it the operation fails with ``CircuitStoreError/Code/busy``
        /// or ``CircuitStoreError/Code/connectionLost`` and writes nothing. Default 2 s; at most a day.
        ///
        /// Until the store has had a connection, ``connectTimeout`` bounds the wait if it is longer (the pool's first
        /// connection must be opened). Two exceptions, both once connected: a process's first operation may take up
        /// to 10 s more to check (or create) the tables; and a write whose COMMIT got no answer by the deadline is
        /// checked on another connection within another `operationTimeout` (or `connectTimeout`), so that whether it
        /// committed is known.
        public var operationTimeout: Duration
        /// How many transitions of each circuit the history keeps. Default 100.
        public var historyLimit: Int
        /// Reported to the server (`application_name`, visible in `pg_stat_activity`). Default `circuitry`.
        public var applicationName: String
        /// Whether the store creates its tables (and ``schema``) in a database that has none. Default `true`. With
        /// `false`, such a database is refused with ``CircuitStoreError/Code/missing`` and nothing is written: for
        /// programs that only read or operate existing circuits, where a mistyped `schema` or `table_prefix` must not
        /// look like an empty set of circuits.
        public var createsTables: Bool

        /// Creates a configuration for a server at `host`.
        public init(
            host: String, port: Int = 5432, username: String, password: String? = nil, database: String? = nil
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database ?? username
            self.tls = Self.isLoopback(host) ? .disable : .prefer
            self.rootCertificatePath = nil
            self.schema = "public"
            self.tablePrefix = ""
            self.maximumConnections = 4
            self.connectTimeout = .seconds(5)
            self.operationTimeout = .seconds(2)
            self.historyLimit = 100
            self.applicationName = "circuitry"
            self.createsTables = true
        }

        /// Whether `text` is meant as a connection URL: it starts with `postgres://` or `postgresql://`, in any case.
        /// Tools that take a SQLite path or a URL in one argument decide with this; ``init(url:)`` then says what is
        /// wrong with a URL that does not parse.
        public static func isURL(_ text: String) -> Bool {
            let lowered = text.prefix(13).lowercased()
            return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
        }

        /// Reads a connection URL: `postgres://user[:password]@host[:port][/database][?parameters]`.
        ///
        /// The scheme may also be `postgresql`. User, password and database are percent-decoded. Parameters:
        /// `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`), `sslrootcert`, `connect_timeout`
        /// (seconds), `application_name`, and Circuitry's own `schema` and `table_prefix`. Anything else is refused,
        /// so that a misspelt parameter is not silently ignored.
        public init(url: String) throws(ConfigurationError) {
            guard let components = URLComponents(string: url),
                let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql"
            else {
                throw ConfigurationError(
                    setting: "url",
                    message: "expected postgres://user[:password]@host[:port]/database, got "
                        + PasswordRedaction.redacting(url))
            }
            // What could be a password must be the password: an `@`, `?`, `#` or `/` left unescaped in it would put
            // a piece of it in the host, the database or a parameter, which locations and messages show.
            let hidden = PasswordRedaction.hiddenParts(of: url)
            guard hidden.isEmpty || hidden == [components.percentEncodedPassword ?? ""] else {
                throw ConfigurationError(
                    setting: "url",
                    message: "malformed URL: percent-encode @ : / ? # and % in a password, and give it only as in "
                        + "postgres://user:password@host: " + PasswordRedaction.redacting(url))
            }
            guard let host = components.host, !host.isEmpty else {
                throw ConfigurationError(
                    setting: "url", message: "the URL names no host: " + PasswordRedaction.redacting(url))
            }
            guard let user = components.user?.removingPercentEncoding, !user.isEmpty else {
                throw ConfigurationError(
                    setting: "url", message: "the URL names no user: " + PasswordRedaction.redacting(url))
            }
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            let database = path.isEmpty ? nil : path.removingPercentEncoding
            // URLComponents keeps brackets around an IPv6 literal; the socket address wants it bare.
            let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            self.init(
                host: bareHost, port: components.port ?? 5432, username: user,
                password: components.password?.removingPercentEncoding, database: database)
            for item in components.queryItems ?? [] {
                let value = item.value ?? ""
                switch item.name {
                case "sslmode":
                    guard let mode = TLSMode(rawValue: value) else {
                        throw ConfigurationError.invalid(
                            "sslmode", value, expected: TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    tls = mode
                case "sslrootcert":
                    rootCertificatePath = value
                case "connect_timeout":
                    guard let seconds = Int(value), seconds > 0 else {
                        throw ConfigurationError.invalid("connect_timeout", value, expected: "a number of seconds")
                    }
                    connectTimeout = .seconds(seconds)
                case "application_name":
                    applicationName = value
                case "schema":
                    schema = value
                case "table_prefix":
                    tablePrefix = value
                default:
                    throw ConfigurationError(
                        setting: "url", message: "unknown connection parameter \(item.name.debugDescription)")
                }
            }
            try validate()
        }

        /// The server as `postgres://user@host:port/database`, without the password: for logs and errors.
        public var location: String {
            var text = "postgres://\(username)@"
            text += host.contains(":") ? "[\(host)]" : host
            text += ":\(port)/\(database)"
            if schema != "public" || !tablePrefix.isEmpty {
                text += "?schema=\(schema)" + (tablePrefix.isEmpty ? "" : "&table_prefix=\(tablePrefix)")
            }
            return text
        }

        /// Throws a ``ConfigurationError`` for a setting out of range or a name that is not a plain identifier.
        public func validate() throws(ConfigurationError) {
            guard (1...65535).contains(port) else {
                throw ConfigurationError.invalid("port", "\(port)", expected: "1...65535")
            }
            guard maximumConnections >= 1 else {
                throw ConfigurationError.invalid("maximumConnections", "\(maximumConnections)", expected: "at least 1")
            }
            guard connectTimeout > .zero, operationTimeout > .zero else {
                throw ConfigurationError(
                    setting: "timeouts", message: "connectTimeout and operationTimeout must be positive")
            }
            // The server takes operationTimeout in milliseconds as an int (statement_timeout, and four times it as
            // idle_in_transaction_session_timeout): a day is far beyond any wait a caller wants, and fits.
            guard connectTimeout <= Self.longestTimeout, operationTimeout <= Self.longestTimeout else {
                throw ConfigurationError(
                    setting: "timeouts", message: "connectTimeout and operationTimeout must be at most a day")
            }
            guard historyLimit >= 1 else {
                throw ConfigurationError.invalid("historyLimit", "\(historyLimit)", expected: "at least 1")
            }
            // Names are spliced into SQL as quoted identifiers, so they are kept to what needs no quoting at all:
            // operators can then type them in psql as they are.
            guard Self.isPlainIdentifier(schema, allowEmpty: false) else {
                throw ConfigurationError.invalid(
                    "schema", schema.debugDescription, expected: "lower-case letters, digits and _, not first a digit")
            }
            guard Self.isPlainIdentifier(tablePrefix, allowEmpty: true) else {
                throw ConfigurationError.invalid(
                    "tablePrefix", tablePrefix.debugDescription,
                    expected: "lower-case letters, digits and _, not first a digit")
            }
            // PostgreSQL truncates identifiers to 63 bytes; the longest of ours must fit.
            guard schema.utf8.count <= 63, (tablePrefix + PostgresSchema.longestName).utf8.count <= 63 else {
                throw ConfigurationError(
                    setting: "tablePrefix", message: "schema and table names must fit in PostgreSQL's 63 bytes")
            }
        }

        static let longestTimeout = Duration.seconds(86_400)

        static func isLoopback(_ host: String) -> Bool {
            host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }

        private static func isPlainIdentifier(_ name: String, allowEmpty: Bool) -> Bool {
            guard let first = name.unicodeScalars.first else { return allowEmpty }
            let allowed = { (c: Unicode.Scalar) in ("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "_" }
            return !("0"..."9").contains(first) && name.unicodeScalars.allSatisfy(allowed)
        }
    }
}

extension ConfigurationError {
    static func invalid(_ setting: String, _ value: String, expected: String) -> ConfigurationError {
        ConfigurationError(setting: setting, message: "\(setting) is \(value); expected \(expected)")
    }
}

extension PostgresCircuitStore.Configuration: CustomStringConvertible, CustomReflectable {
    /// ``location``: the server without the password.
    public var description: String { location }

    /// Every setting, with the password hidden, so that `dump` and debuggers do not show it either.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": host, "port": port, "username": username,
                "password": password.map { _ in PasswordRedaction.mask } as Any, "database": database, "tls": tls,
                "rootCertificatePath": rootCertificatePath as Any, "schema": schema, "tablePrefix": tablePrefix,
                "maximumConnections": maximumConnections, "connectTimeout": connectTimeout,
                "operationTimeout": operationTimeout, "historyLimit": historyLimit, "applicationName": applicationName,
            ],
            displayStyle: .struct)
    }
}

#endif
