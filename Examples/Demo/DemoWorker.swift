import ArgumentParser
import Circuitry
import CircuitryStores
import Foundation
import Logging
import Synchronization

/// The simulated upstream's failure during the outage.
struct UpstreamUnavailable: Error, CustomStringConvertible {
    var description: String { "503 from the mail upstream" }
}

/// One worker process of the demo: claims jobs, runs each through the tenant's breaker, re-enqueues rejected jobs
/// with the retry-after delay, and writes a summary of the transitions it committed when the queue is drained.
struct DemoWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "One worker process (started by the demo itself).", shouldDisplay: false)

    @Option var queue: String
    @Option(help: "Where the shared breakers are; without it, this process keeps its breakers in memory.")
    var breakers: String?
    @Option var index: Int
    @Option var epoch: Int64
    @Option var failingTenant: String
    @Option var outageStart: Int64
    @Option var outageEnd: Int64
    @Option var threshold: Int
    @Option var openForMs: Int
    @Option var report: String

    func run() async throws {
        if let breakers {
            try await StoreLocation(breakers).withStore(logger: DemoOutput.logger) { try await work(store: $0) }
        } else {
            try await work(store: InMemoryCircuitStore())
        }
    }

    private func work(store: any CircuitStore) async throws {
        let name = "worker-\(index) (pid \(getpid()))"
        let transitions = TransitionLog()
        var configuration = BreakerFactory.Configuration(
            settings: BreakerSettings(
                failureThreshold: threshold, closeThreshold: 1, openDuration: .milliseconds(openForMs),
                probeTimeout: .milliseconds(500)))
        configuration.naming = { base, context in "\(base)/\(context["tenant"] ?? "-")" }
        configuration.actor = name
        let epoch = self.epoch
        configuration.onStateChange = { change in
            let line = DemoOutput.transitionLine(change.transition, epoch: epoch)
            transitions.append(line)
            DemoOutput.say(line)
        }
        let factory = try BreakerFactory(store: store, configuration: configuration, logger: DemoOutput.logger)
        let jobs = try JobQueue(path: queue)

        let deadline = ContinuousClock.now + .seconds(45)
        while ContinuousClock.now < deadline {
            let now = Timestamp(Date()).millisecondsSince1970
            guard let job = try jobs.claim(now: now, worker: name) else {
                let (drained, nextDue) = try jobs.drained()
                if drained { break }
                let wait = min(20, max(1, (nextDue ?? now + 20) - now))
                try await Task.sleep(for: .milliseconds(wait))
                continue
            }
            let breaker = try factory.breaker(for: "send-email", context: ["tenant": job.tenant])
            do {
                try await breaker.execute { try await sendEmail(for: job.tenant) }
                try jobs.finish(job, succeeded: true)
            } catch let rejection as CircuitRejected {
                // Not run: back into the queue, due when the circuit will let a call through.
                let retryAt = rejection.retryAfter?.millisecondsSince1970 ?? now + Int64(openForMs)
                try jobs.requeue(job, runAt: retryAt)
            } catch {
                try jobs.finish(job, succeeded: false)
            }
        }
        try await factory.flush()
        let summary = DemoWorkerSummary(worker: name, transitions: transitions.all)
        try JSONEncoder().encode(summary).write(to: URL(fileURLWithPath: report))
    }

    /// The simulated upstream: 5 ms per call; the failing tenant's answers 503 during the outage.
    private func sendEmail(for tenant: String) async throws {
        try await Task.sleep(for: .milliseconds(5))
        let now = Timestamp(Date()).millisecondsSince1970
        if tenant == failingTenant, (outageStart..<outageEnd).contains(now) { throw UpstreamUnavailable() }
    }
}

/// What a worker tells the demo when the queue is drained.
struct DemoWorkerSummary: Codable {
    var worker: String
    var transitions: [String]
}

/// The transitions this process committed, as printed.
final class TransitionLog: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
