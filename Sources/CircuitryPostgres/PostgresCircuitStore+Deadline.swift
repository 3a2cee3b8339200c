#if Postgres

import Circuitry
import PostgresNIO
import Synchronization

/// Every operation runs on a pooled connection within its deadline (``Configuration/operationTimeout``).
extension PostgresCircuitStore {
    /// Leases a connection, makes sure the tables are there, and runs `operation`, within `timeout` (by default
    /// ``Configuration/operationTimeout``, or ``Configuration/connectTimeout`` if longer while the store has not yet
    /// had a connection: the pool's first one must be opened first).
    ///
    /// A server that cannot be reached fails the operation at its deadline, the first one too. The first operation
    /// that gets a connection also checks the tables (and creates them, once in a database's life): once connected, it
    /// may take up to ``startupTimeout`` more for that, as it may wait behind other processes creating them.
    ///
    /// At the deadline the lease request is cancelled or the connection closed, which ends whatever the operation
    /// was waiting for; the server then rolls its transaction back (``update(_:_:)`` asks the server what became of
    /// a COMMIT that got no answer).
    ///
    /// The operation runs in a task of its own, which the caller's cancellation does not reach: recording an outcome
    /// or flushing from a task that is being cancelled must still complete, bounded by the deadline alone. The caller
    /// always waits for that task, so `operation` never outlives this call.
    func withConnection<T: Sendable>(
        timeout: Duration? = nil, _ operation: (PostgresConnection) async throws -> T
    ) async throws -> T {
        guard state.withLock({ $0.lifecycle }) != .finished else {
            throw CircuitStoreError(code: .closed, message: "the store's run() has ended", location: location)
        }
        let timeout =
            timeout
            ?? (state.withLock { $0.hasConnected }
                ? configuration.operationTimeout : max(configuration.operationTimeout, configuration.connectTimeout))
        do {
            let value = try await withoutActuallyEscaping(operation) { operation in
                let box = OperationBox(operation)
                let task = Task {
                    defer { box.release() }
                    return try await self.withDeadline(timeout: timeout) { connection, slot in
                        try await self.prepareTablesIfNeeded(on: connection, slot: slot)
                        return try await box.run(connection)
                    }
                }
                return try await task.value
            }
            state.withLock { state in
                state.hasConnected = true
                state.connectionFailure = nil
            }
            return value
        } catch let error as BodyError {
            throw error.error
        } catch {
            let storeError = PostgresErrorMapping.storeError(error, sql: nil, location: location)
            if PostgresErrorMapping.isConnectionFailure(storeError) {
                state.withLock { $0.connectionFailure = storeError }
                logger.debug(
                    "PostgreSQL store cannot reach the server",
                    metadata: ["circuitry.store": "\(location)", "circuitry.error": "\(storeError)"])
            }
            throw storeError
        }
    }

    private enum Race<T: Sendable>: Sendable {
        case finished(T)
        case timedOut
    }

    /// Runs `operation` on a pooled connection until it finishes or `timeout` (plus any time the operation was granted
    /// through its ``ConnectionSlot``) has passed.
    private func withDeadline<T: Sendable>(
        timeout: Duration, _ operation: @escaping @Sendable (PostgresConnection, ConnectionSlot) async throws -> T
    ) async throws -> T {
        let slot = ConnectionSlot()
        return try await withThrowingTaskGroup(of: Race<T>.self) { group in
            group.addTask {
                // A connection that a deadline (or a broken network) closed may be handed out again before the pool
                // has seen it close: such a lease is given back and another taken, after a pause that gives the pool
                // time to notice (1, 2, 4 … 32 ms, 0.16 s in all, within the deadline). Taken again at once, three
                // leases in a row were all closed ones on a loaded machine, and a COMMIT whose answer was lost could
                // not be asked about (`outcome(of:failure:)`).
                var pause = Duration.milliseconds(1)
                for attempt in 1...10 {
                    if attempt > 1 {
                        try await Task.sleep(for: pause)
                        pause = min(pause * 2, .milliseconds(32))
                    }
                    do {
                        return .finished(
                            try await self.client.withConnection { connection in
                                guard !connection.isClosed else { throw ClosedConnection() }
                                slot.hold(connection)
                                defer { slot.release() }
                                return try await operation(connection, slot)
                            })
                    } catch is ClosedConnection {
                        continue
                    } catch  where !slot.wasLeased {
                        // The pool could not hand out a connection (for example, it gave up reconnecting).
                        throw PostgresErrorMapping.storeError(error, sql: nil, location: self.location)
                    }
                }
                throw CircuitStoreError(
                    code: .connectionLost, message: "the pool handed out only closed connections",
                    location: self.location)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                while let granted = slot.takeGrantedTime() { try await Task.sleep(for: granted) }
                return .timedOut
            }
            if case .finished(let value)? = try await group.next() {
                group.cancelAll()
                return value
            }
            if slot.wasLeased {
                // The server enforces the same bound (statement_timeout, lock_timeout) and answers with an
                // error the transaction can be rolled back on. Only a server that stopped answering altogether
                // gets its connection closed, after a grace period.
                group.addTask {
                    try await Task.sleep(for: .milliseconds(500))
                    return .timedOut
                }
                if case .finished(let value)? = try await group.next() {
                    group.cancelAll()
                    return value
                }
            }
            let wasLeased = slot.closeIfHeld()
            group.cancelAll()
            if case .finished(let value)?? = try? await group.next() { return value }
            throw timeoutError(after: timeout, wasLeased: wasLeased)
        }
    }

    private func timeoutError(after timeout: Duration, wasLeased: Bool) -> CircuitStoreError {
        if wasLeased {
            return CircuitStoreError(
                code: .busy,
                message: "the operation did not finish within \(timeout): another process held the circuit's row lock, "
                    + "or the server stopped answering",
                location: location)
        }
        let (lifecycle, hasConnected, failure) = state.withLock {
            ($0.lifecycle, $0.hasConnected, $0.connectionFailure)
        }
        if lifecycle == .notStarted {
            return CircuitStoreError(
                code: .closed,
                message: "no connection within \(timeout): the store's run() is not running (add the store to a "
                    + "ServiceGroup, run it in a task, or use PostgresCircuitStore.withStore)",
                location: location)
        }
        if let failure {
            return CircuitStoreError(
                code: failure.code, message: "no connection within \(timeout); last failure: \(failure.message)",
                location: location)
        }
        // Operations hold a connection for a few round trips, so a pool that hands out none for a whole timeout
        // almost always means a server that cannot be reached (the pool's connection attempts keep failing).
        return CircuitStoreError(
            code: hasConnected ? .connectionLost : .cannotOpen,
            message: hasConnected
                ? "no connection within \(timeout): the server cannot be reached, or all "
                    + "\(configuration.maximumConnections) pooled connections stayed busy"
                : "could not reach the server within \(timeout)",
            location: location)
    }

    /// The bound on checking (or creating) the tables once connected, which may wait behind other processes creating
    /// them at start-up.
    var startupTimeout: Duration { max(configuration.operationTimeout, .seconds(10)) }

    /// Checks (or creates) the tables on the first operation that has a connection, granting it ``startupTimeout``
    /// more for that.
    private func prepareTablesIfNeeded(on connection: PostgresConnection, slot: ConnectionSlot) async throws {
        guard !state.withLock({ $0.schemaReady }) else { return }
        slot.grant(startupTimeout)
        do {
            try await tables.prepare(
                on: connection, location: location, creating: configuration.createsTables,
                timeoutMilliseconds: startupTimeout.milliseconds, logger: logger)
        } catch {
            throw PostgresErrorMapping.storeError(error, sql: nil, location: location)
        }
        state.withLock { $0.schemaReady = true }
    }
}

/// The non-escaping operation of ``PostgresCircuitStore/withConnection(timeout:_:)``, made escapable with
/// `withoutActuallyEscaping` so that a task of its own can run it.
///
/// `@unchecked Sendable`: only that task touches it, first to run the operation and then to let go of it, and the
/// caller waits for the task before the `withoutActuallyEscaping` scope ends; once released, nothing holds the
/// operation any more, whenever the task itself is freed.
private final class OperationBox<T>: @unchecked Sendable {
    private var operation: ((PostgresConnection) async throws -> T)?

    init(_ operation: @escaping (PostgresConnection) async throws -> T) {
        self.operation = operation
    }

    func run(_ connection: PostgresConnection) async throws -> T {
        guard let operation else { throw CancellationError() }
        return try await operation(connection)
    }

    func release() {
        operation = nil
    }
}

/// A leased connection was already closed.
private struct ClosedConnection: Error {}

/// The connection an operation holds, so that its deadline can close it, and any time granted past the deadline.
private final class ConnectionSlot: Sendable {
    private let state = Mutex<(connection: PostgresConnection?, leased: Bool, granted: Duration?)>((nil, false, nil))

    var wasLeased: Bool { state.withLock { $0.leased } }

    func hold(_ connection: PostgresConnection) {
        state.withLock { state in
            state.connection = connection
            state.leased = true
        }
    }

    /// Moves the deadline `duration` later (for the tables' check, which only a connected operation makes).
    func grant(_ duration: Duration) {
        state.withLock { $0.granted = duration }
    }

    /// The time granted since the last call, if any.
    func takeGrantedTime() -> Duration? {
        state.withLock { state in
            defer { state.granted = nil }
            return state.granted
        }
    }

    func release() {
        state.withLock { $0.connection = nil }
    }

    /// Closes the held connection, if any; returns whether a connection had been leased.
    func closeIfHeld() -> Bool {
        let (connection, leased) = state.withLock { ($0.connection, $0.leased) }
        // Closing the channel fails the query in flight at once; the pool then drops the connection.
        _ = connection?.close() as EventLoopFuture<Void>?
        return leased
    }
}

#endif
