#if DynamoDB
import Synchronization

/// Puts this process's updates of one circuit in line, so that they do not race each other's conditional writes.
///
/// Without it, 50 concurrent updates of one circuit in one process would each read, and 49 would find their
/// condition failed, pay for the failed write and run again. Updates of different circuits never wait for each
/// other, and other processes are not affected: between processes the conditional write is what keeps updates
/// apart. Waiting is asynchronous (a continuation, no thread blocks) and bounded by the caller's deadline.
/// Names are keyed by their UTF-8 bytes, as DynamoDB compares them.
final class CircuitQueue: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct Line {
        var waiters: [Waiter] = []
    }

    private struct State {
        /// A circuit is in the dictionary while an update holds it; its waiters queue in order.
        var lines: [[UInt8]: Line] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Runs `body` once no other update of `name` in this process runs; `nil` if that did not happen before
    /// `deadline` (or the task was cancelled while waiting), in which case `body` did not run.
    func withTurn<T>(
        _ name: String, deadline: ContinuousClock.Instant, isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T? {
        let key = Array(name.utf8)
        guard await acquire(key, deadline: deadline) else { return nil }
        defer { release(key) }
        return try await body()
    }

    private func acquire(_ key: [UInt8], deadline: ContinuousClock.Instant) async -> Bool {
        let id: UInt64? = state.withLock { state in
            guard state.lines[key] != nil else {
                state.lines[key] = Line()
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return true }
        // Waits until release() hands the turn over, the deadline passes or the task is cancelled.
        let timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            self?.giveUp(key, id)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let outcome = state.withLock { state -> Bool? in
                    guard state.lines[key] != nil else {
                        // Released between the first look and now: the turn is this waiter's.
                        state.lines[key] = Line()
                        return true
                    }
                    // The timer or the cancellation may have fired before the waiter was in line.
                    if Task.isCancelled || ContinuousClock.now >= deadline { return false }
                    state.lines[key]!.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(returning: outcome) }
            }
        } onCancel: {
            giveUp(key, id)
        }
    }

    /// Removes a waiter that is still waiting, and tells it that it did not get the turn.
    private func giveUp(_ key: [UInt8], _ id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.lines[key]?.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.lines[key]!.waiters.remove(at: index)
        }
        waiter?.continuation.resume(returning: false)
    }

    private func release(_ key: [UInt8]) {
        let next = state.withLock { state -> Waiter? in
            guard var line = state.lines[key], !line.waiters.isEmpty else {
                state.lines[key] = nil
                return nil
            }
            let next = line.waiters.removeFirst()
            state.lines[key] = line
            return next
        }
        next?.continuation.resume(returning: true)
    }
}
#endif
