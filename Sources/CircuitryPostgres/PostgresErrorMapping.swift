#if Postgres

import Circuitry
import PostgresNIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns what postgres-nio throws into a `CircuitStoreError` whose code says what kind of failure it was.
///
/// Server errors keep their SQLSTATE and message: `PostgreSQL error 55P03: canceling statement due to lock timeout`.
/// https://www.postgresql.org/docs/15/errcodes-appendix.html
enum PostgresErrorMapping {
    /// Whether `error` means the connection or the server went away (as opposed to a failed statement).
    static func isConnectionFailure(_ error: CircuitStoreError) -> Bool {
        error.code == .connectionLost || error.code == .cannotOpen
    }

    static func storeError(_ error: any Error, sql: String?, location: String) -> CircuitStoreError {
        if let error = error as? CircuitStoreError { return error }
        if let error = error as? PSQLError { return storeError(error, sql: sql, location: location) }
        // The pool's own error type lives in postgres-nio's underscored `_ConnectionPoolModule`, which is not a
        // stable API; its cases are recognised by name instead.
        let text = String(reflecting: error)
        if text.contains("connectionCreationCircuitBreakerTripped") {
            return CircuitStoreError(
                code: .connectionLost,
                message: "the server has been unreachable for a minute; the pool keeps retrying in the background",
                location: location)
        }
        if text.contains("poolShutdown") {
            return CircuitStoreError(
                code: .closed, message: "the store's connection pool has shut down", location: location)
        }
        return CircuitStoreError(code: .other, message: "\(error)", location: location, sql: sql)
    }

    private static func storeError(_ error: PSQLError, sql: String?, location: String) -> CircuitStoreError {
        let code: CircuitStoreError.Code
        var message: String
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?????"
            code = self.code(sqlState: state)
            message = "PostgreSQL error \(state): \(error.serverInfo?[.message] ?? "(no message)")"
            if let detail = error.serverInfo?[.detail] { message += " (\(detail))" }
        case .connectionError:
            code = .cannotOpen
            message = "could not connect: \(connectionFailure(error.underlying))"
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            code = .connectionLost
            message = "the connection to the server was lost (\(error.code))"
        case .poolClosed:
            code = .closed
            message = "the store is closed"
        case .queryCancelled:
            code = .busy
            message = "the operation was cancelled before it got a connection"
        case .sslUnsupported, .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest,
            .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            code = .cannotOpen
            message = "could not open a session: \(error.code)"
            if let underlying = error.underlying { message += " (\(underlying))" }
        default:
            code = .other
            message = "postgres-nio error: \(error.code)"
            if let underlying = error.underlying { message += " (\(underlying))" }
        }
        return CircuitStoreError(code: code, message: message, location: location, sql: sql)
    }

    /// Why a connection could not be made, in a few words: `127.0.0.1:5432: Connection refused` rather than NIO's
    /// description of the attempts.
    static func connectionFailure(_ error: (any Error)?) -> String {
        guard let error else { return "unknown cause" }
        if let error = error as? NIOConnectionError, error.dnsAError == nil, error.dnsAAAAError == nil,
            !error.connectionErrors.isEmpty
        {
            return error.connectionErrors.map { "\(address($0.target)): \(connectionFailure($0.error))" }
                .joined(separator: "; ")
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }

    private static func address(_ target: SocketAddress) -> String {
        guard let ip = target.ipAddress, let port = target.port else { return "\(target)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// The store error code for a SQLSTATE.
    static func code(sqlState: String) -> CircuitStoreError.Code {
        switch sqlState {
        // lock_not_available (lock_timeout), query_canceled (statement_timeout), serialization_failure,
        // deadlock_detected, too_many_connections: another process held things up; trying again may succeed.
        case "55P03", "57014", "40001", "40P01", "53300": return .busy
        // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down).
        case "57P01", "57P02", "57P03": return .connectionLost
        // invalid_catalog_name (no such database), invalid_authorization_specification, invalid_password.
        case "3D000", "28000", "28P01": return .cannotOpen
        case "53100": return .full
        case "25006": return .readOnly
        default: break
        }
        switch sqlState.prefix(2) {
        case "08": return .connectionLost  // connection_exception
        case "XX": return sqlState == "XX001" || sqlState == "XX002" ? .corrupt : .other  // data/index_corrupted
        default: return .other
        }
    }
}

#endif
