#if Postgres

import Circuitry
import PostgresNIO

/// How the store's connections are configured: server, TLS and the start-up parameters that bound them.
extension PostgresCircuitStore {

    /// How the connections use TLS: off, preferred or required, and which checks the certificate gets.
    static func tlsSettings(_ configuration: Configuration) -> (use: TLSUse, settings: TLSConfiguration) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let path = configuration.rootCertificatePath { tls.trustRoots = .file(path) }
        switch configuration.tls {
        case .disable:
            return (.disable, tls)
        case .prefer:
            tls.certificateVerification = .none
            return (.prefer, tls)
        case .require:
            tls.certificateVerification = .none
            return (.require, tls)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return (.require, tls)
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            return (.require, tls)
        }
    }

    enum TLSUse { case disable, prefer, require }

    /// The parameters every connection sends at start-up. The server enforces the operation's bound on its side: a
    /// statement or a row-lock wait that outlives the operation's deadline is cancelled there too, and a session left
    /// inside a transaction by a client that hung or vanished is ended, so that its row locks are released.
    static func startupParameters(_ configuration: Configuration) -> [(String, String)] {
        let milliseconds = configuration.operationTimeout.milliseconds
        return [
            ("application_name", configuration.applicationName),
            ("statement_timeout", "\(milliseconds)"),
            ("lock_timeout", "\(milliseconds)"),
            ("idle_in_transaction_session_timeout", "\(max(5000, 4 * milliseconds))"),
        ]
    }

    /// The pool's settings for `configuration`. `package`, so that the benchmark's raw PostgreSQL floors connect
    /// exactly as the store does.
    package static func clientConfiguration(_ configuration: Configuration) -> PostgresClient.Configuration {
        let (use, settings) = tlsSettings(configuration)
        let mode: PostgresClient.Configuration.TLS =
            switch use {
            case .disable: .disable
            case .prefer: .prefer(settings)
            case .require: .require(settings)
            }
        var client = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: mode)
        client.options.maximumConnections = configuration.maximumConnections
        client.options.connectTimeout = configuration.connectTimeout
        client.options.additionalStartupParameters = startupParameters(configuration)
        return client
    }

    /// The configuration of a connection outside the pool, with the same server, TLS and start-up parameters as the
    /// pool's connections.
    static func connectionConfiguration(_ configuration: Configuration) throws
        -> PostgresConnection.Configuration
    {
        let (use, settings) = tlsSettings(configuration)
        let mode: PostgresConnection.Configuration.TLS =
            switch use {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: settings))
            case .require: .require(try NIOSSLContext(configuration: settings))
            }
        var connection = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: mode)
        connection.options.connectTimeout = .milliseconds(configuration.connectTimeout.milliseconds)
        connection.options.additionalStartupParameters = startupParameters(configuration)
        return connection
    }
}

#endif
