import Circuitry

/// Runs `body` in a task that is cancelled before `body` starts, as when a job is cancelled while it runs.
func inCancelledTask<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task {
        // Waits for the cancellation below, which ends the sleep at once: no time passes for the checks.
        try? await Task.sleep(for: .seconds(86_400))
        try expect(Task.isCancelled, "the task is cancelled")
        return try await body()
    }
    task.cancel()
    return try await task.value
}

extension StoreConformance {
    /// Recording an outcome and flushing complete even when the caller's task is cancelled (DESIGN.md: "Waiting is
    /// asynchronous"), bounded by the store's own timeout: a job cancelled while it runs must not lose its outcome,
    /// hold a probe lease until it expires, or drop the successes its process batched.
    static let cancellationChecks: [Check] = [
        Check(name: "a failure reported from a cancelled task is recorded") { context in
            var settings = checkSettings
            settings.failureThreshold = 1
            let factory = try context.factory(settings)
            let breaker = try factory.breaker(for: "cancelled-failure")
            try await inCancelledTask { try? await breaker.execute { throw Boom() } }
            try expectEqual(try await breaker.state(), .open, "the failure from the cancelled task tripped it")

            let other = try factory.breaker(for: "cancelled-record")
            let permit = try await other.acquire()
            try await inCancelledTask { try await other.record(.failure, for: permit) }
            try expectEqual(try await other.state(), .open, "record(_:for:) from a cancelled task")
        },
        Check(name: "a probe cancelled with its task releases its lease") { context in
            let factory = try context.factory(checkSettings)
            let breaker = try factory.breaker(for: "cancelled-probe")
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(10))
            let outcome = try await inCancelledTask { () -> String in
                do {
                    try await breaker.execute { try Task.checkCancellation() }
                    return "returned"
                } catch is CancellationError {
                    return "cancelled"
                }
            }
            try expectEqual(outcome, "cancelled", "the work's CancellationError reaches the caller")
            // Both of the period's probes are free again: the cancelled one's lease was released.
            let first = try await breaker.acquire()
            let second = try await breaker.acquire()
            try expect(first.isProbe && second.isProbe, "two probes admitted after the cancelled one")
            try expectEqual(try await breaker.snapshot().record.counts, .zero, "a cancelled probe counts nothing")
        },
        Check(name: "flush() in a cancelled task writes the batch") { context in
            let factory = try context.factory(checkSettings, batch: 1000)
            let breaker = try factory.breaker(for: "cancelled-flush")
            for _ in 0..<10 { try await succeed(breaker) }
            try expectEqual(try await breaker.snapshot().unflushedSuccesses, 10, "batched")
            try await inCancelledTask { try await factory.flush() }
            let stored = try await context.store.read("cancelled-flush").record
            try expectEqual(stored?.counts.successes, 10, "stored successes after a flush in a cancelled task")
            try expectEqual(try await breaker.snapshot().unflushedSuccesses, 0, "nothing left to flush")
        },
    ]
}
