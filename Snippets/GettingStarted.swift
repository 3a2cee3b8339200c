// A factory per process, a breaker per job: the job-queue worker of the README and of "Getting started".

import Circuitry
// snippet.hide
import Foundation
// snippet.show
import Logging

// snippet.hide
struct Message: Sendable {}
struct Job: Sendable {
    var tenantID: String
    var message: Message
}
struct JobQueue: Sendable {
    func retry(_ job: Job, at instant: Date) async throws {}
}
struct Mailer: Sendable {
    func send(_ message: Message) async throws {}
}
let mailer = Mailer()
// snippet.show
func makeBreakers(logger: Logger) throws -> BreakerFactory {
    let store = try SQLiteCircuitStore(path: "/var/lib/jobs/breakers.sqlite")
    var configuration = BreakerFactory.Configuration(
        settings: BreakerSettings(
            failureThreshold: 5, openDuration: .seconds(30 * 60), resetInterval: .seconds(12 * 3600))
    )
    configuration.naming = { base, context in "\(base)/\(context["tenant_id"] ?? "unknown")" }
    configuration.onStateChange = { change in
        // Called once per transition, in the process that committed it, after the commit.
        logger.info("circuit \(change.transition.circuit): \(change.transition.from) -> \(change.transition.to)")
    }
    return try BreakerFactory(store: store, configuration: configuration, logger: logger)
}

func handle(_ job: Job, breakers: BreakerFactory, queue: JobQueue) async throws {
    let breaker = try breakers.breaker(for: "send-email", context: ["tenant_id": job.tenantID])
    do {
        try await breaker.execute { try await mailer.send(job.message) }
    } catch let rejected as CircuitRejected {
        // Not run: re-enqueue for when the circuit lets a probe through.
        try await queue.retry(job, at: rejected.retryAfter?.date ?? .now.addingTimeInterval(60))
    }
    // Any other error is the work's own, rethrown unchanged.
}
