#if Redis
import NIOCore
import NIOPosix
import Synchronization

/// At most `size` connections to one server, opened when first needed and reopened when one has failed.
///
/// Connections are shared, not leased: Redis answers each connection's commands in order, so any number of tasks
/// pipeline their requests on one connection (``RESPHandler`` pairs the replies). Tasks take the connections in
/// turn, which spreads them over the pool; nobody waits for a connection to be free, only for one being opened.
/// A request that needs the connection to itself (`WATCH`, a `MULTI` block written in pieces) has no place here:
/// the store's commands are each one pipelined write.
package final class RedisConnectionPool: Sendable {
    private enum Slot {
        case empty
        case connecting(EventLoopFuture<RedisConnection>)
        case ready(RedisConnection)
    }

    private struct State {
        var slots: [Slot]
        var next = 0
        var closed = false
    }

    package let endpoint: RedisEndpoint
    private let state: Mutex<State>

    package init(endpoint: RedisEndpoint, size: Int) {
        self.endpoint = endpoint
        self.state = Mutex(State(slots: Array(repeating: .empty, count: max(1, size))))
    }

    /// Sends `commands` pipelined on one of the pool's connections and returns their replies, in order; everything,
    /// opening a connection included, by `deadline`.
    package func send(_ commands: [[String]], deadline: NIODeadline) async throws -> [RESPValue] {
        try await connection(deadline: deadline).send(commands, deadline: deadline)
    }

    /// Closes every connection; later sends fail with ``RedisClientError/closed``.
    package func close() async {
        for slot in closeSlots() {
            switch slot {
            case .ready(let connection): await connection.close()
            case .connecting(let future): await (try? future.get())?.close()
            case .empty: break
            }
        }
    }

    /// ``close()`` without waiting: for a pool that is being deinitialised.
    package func startClosing() {
        for slot in closeSlots() {
            switch slot {
            case .ready(let connection): connection.startClosing()
            case .connecting(let future): future.whenSuccess { $0.startClosing() }
            case .empty: break
            }
        }
    }

    /// Marks the pool closed and empties it; returns what its slots held.
    private func closeSlots() -> [Slot] {
        state.withLock { state in
            state.closed = true
            defer { state.slots = state.slots.map { _ in .empty } }
            return state.slots
        }
    }

    private enum Action {
        case use(RedisConnection)
        case wait(EventLoopFuture<RedisConnection>)
        case open(Int, EventLoopPromise<RedisConnection>)
    }

    /// The next connection in turn: ready, being opened by another task (waited for), or opened now.
    package func connection(deadline: NIODeadline) async throws -> RedisConnection {
        let action = try state.withLock { state throws(RedisClientError) -> Action in
            guard !state.closed else { throw .closed }
            let index = state.next
            state.next = (index + 1) % state.slots.count
            switch state.slots[index] {
            case .ready(let connection) where connection.isActive:
                return .use(connection)
            case .connecting(let future):
                return .wait(future)
            case .ready, .empty:
                let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: RedisConnection.self)
                state.slots[index] = .connecting(promise.futureResult)
                return .open(index, promise)
            }
        }
        switch action {
        case .use(let connection):
            return connection
        case .wait(let future):
            return try await Self.value(of: future, by: deadline)
        case .open(let index, let promise):
            do {
                let connection = try await RedisConnection.connect(to: endpoint, deadline: deadline)
                let closed = state.withLock { state in
                    if !state.closed { state.slots[index] = .ready(connection) }
                    return state.closed
                }
                if closed {
                    await connection.close()
                    promise.fail(RedisClientError.closed)
                    throw RedisClientError.closed
                }
                promise.succeed(connection)
                return connection
            } catch {
                state.withLock { state in
                    if !state.closed { state.slots[index] = .empty }
                }
                promise.fail(error)
                throw error
            }
        }
    }

    /// The future's value, or ``RedisClientError/timedOut(connecting:)`` at `deadline` (the future runs on).
    private static func value(of future: EventLoopFuture<RedisConnection>, by deadline: NIODeadline) async throws
        -> RedisConnection
    {
        let bounded = future.eventLoop.makePromise(of: RedisConnection.self)
        let timer = future.eventLoop.scheduleTask(deadline: deadline) {
            bounded.fail(RedisClientError.timedOut(connecting: true))
        }
        future.whenComplete { result in
            timer.cancel()
            bounded.completeWith(result)
        }
        return try await bounded.futureResult.get()
    }
}
#endif
