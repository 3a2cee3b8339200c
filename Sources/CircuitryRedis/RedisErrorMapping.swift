#if Redis
import Circuitry

/// Turns the client's failures and the server's error replies into ``CircuitStoreError``s whose code says what kind
/// of failure it was. Server errors keep their line: `Redis error: WRONGTYPE Operation against a key holding the
/// wrong kind of value - while executing "HGETALL"`. Arguments (names, values, passwords) are never included.
/// https://redis.io/docs/latest/develop/reference/protocol-spec/#simple-errors
enum RedisErrorMapping {
    /// Throws the store error for an error reply; does nothing for any other reply.
    static func check(_ reply: RESPValue, command: String) throws(CircuitStoreError) {
        guard let line = reply.errorMessage else { return }
        throw storeError(reply: line, command: command)
    }

    /// A reply of a shape the command never answers with.
    static func unexpected(_ reply: RESPValue, command: String) -> CircuitStoreError {
        if let line = reply.errorMessage { return storeError(reply: line, command: command) }
        return CircuitStoreError(code: .other, message: "an unexpected reply from the server", sql: command)
    }

    static func storeError(reply line: String, command: String) -> CircuitStoreError {
        let code = line.prefix { $0 != " " }
        let mapped: CircuitStoreError.Code =
            switch code {
            // A key of the prefix holds another type: another application (or a person) uses the prefix.
            case "WRONGTYPE": .foreignDatabase
            case "NOAUTH", "WRONGPASS", "NOPERM": .cannotOpen
            // A replica, or a primary that lost its replicas under min-replicas-to-write.
            case "READONLY", "NOREPLICAS": .readOnly
            case "OOM": .full
            // Loading its data after a restart, a script or a failover in progress: trying later may succeed.
            case "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN": .busy
            default: .other
            }
        var message = "Redis error: \(line)"
        if code == "MOVED" || code == "ASK" {
            message += " (Redis Cluster serves the store's slot on another node; point the URL at that node)"
        }
        return CircuitStoreError(code: mapped, message: message, sql: command)
    }

    /// The store error for anything an operation threw.
    static func storeError(_ error: any Error, hasConnected: Bool, timeout: Duration) -> CircuitStoreError {
        if let error = error as? CircuitStoreError { return error }
        guard let error = error as? RedisClientError else {
            return CircuitStoreError(code: .other, message: "\(error)")
        }
        switch error {
        case .cannotConnect(let cause):
            return CircuitStoreError(
                code: hasConnected ? .connectionLost : .cannotOpen, message: "could not connect: \(cause)")
        case .refused(let line):
            let refusal = storeError(reply: line, command: "AUTH")
            return CircuitStoreError(
                code: refusal.code == .other ? .cannotOpen : refusal.code,
                message: "the server refused the session: \(line)")
        case .timedOut(connecting: true):
            return CircuitStoreError(
                code: hasConnected ? .connectionLost : .cannotOpen,
                message: "could not open a connection within the time allowed (the server does not answer)")
        case .timedOut(connecting: false):
            return CircuitStoreError(
                code: .busy,
                message: "the operation did not finish within \(timeout): the server stopped answering, or this "
                    + "process's other updates of the circuit took that long")
        case .connectionClosed:
            return CircuitStoreError(
                code: .connectionLost, message: "the connection to the server was lost; the next operation reconnects")
        case .protocolError(let what):
            return CircuitStoreError(code: .other, message: "the server sent \(what); the connection was closed")
        case .closed:
            return CircuitStoreError(code: .closed, message: "the store was closed")
        }
    }
}
#endif
