#if Redis
import NIOCore
import NIOPosix
import Synchronization

/// Puts this process's updates of one circuit in line, so that they do not race each other.
///
/// An update reads the record, runs the breaker's rules and writes only if nobody wrote in between; two updates of
/// one circuit from one process would otherwise make one of them read and run again. In line, only updates from
/// other processes can make an update retry, and the retries stay few. The line is held for the update's round trips
/// only, never across the user's work.
///
/// Each circuit's line is a chain of futures: an update waits for the one before it, and its own future is what the
/// next one waits for. An update that gives up waiting (its deadline) still passes its turn on only after the one
/// before it has finished, so that the line keeps its order.
final class CircuitGate: Sendable {
    private let tails = Mutex<[String: EventLoopFuture<Void>]>([:])

    /// Runs `body` once every earlier update of `name` in this process has finished; throws
    /// ``RedisClientError/timedOut(connecting:)`` if that is not so by `deadline`.
    func withTurn<T>(for name: String, deadline: NIODeadline, _ body: () async throws -> T) async throws -> T {
        let mine = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
        let previous = tails.withLock { tails in
            defer { tails[name] = mine.futureResult }
            return tails[name]
        }
        // The line is forgotten once its last update has passed its turn on.
        let future = mine.futureResult
        future.whenComplete { _ in
            self.tails.withLock { tails in
                if tails[name] === future { tails[name] = nil }
            }
        }
        if let previous {
            do {
                try await Self.wait(for: previous, by: deadline)
            } catch {
                previous.whenComplete { _ in mine.succeed() }
                throw error
            }
        }
        defer { mine.succeed() }
        return try await body()
    }

    private static func wait(for future: EventLoopFuture<Void>, by deadline: NIODeadline) async throws {
        let bounded = future.eventLoop.makePromise(of: Void.self)
        let timer = future.eventLoop.scheduleTask(deadline: deadline) {
            bounded.fail(RedisClientError.timedOut(connecting: false))
        }
        future.whenComplete { _ in
            timer.cancel()
            bounded.succeed()
        }
        try await bounded.futureResult.get()
    }
}
#endif
