import ArgumentParser
import Circuitry
import CircuitryStores
import Foundation
import Logging

/// A multi-tenant job queue whose worker processes share their breakers through one store, run once with the
/// shared store and once with a breaker in each process's memory, for contrast. `make demo` runs it on a SQLite
/// file; `make demo-postgres` on a throw-away PostgreSQL server.
@main
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuitry-demo",
        abstract: "A job queue with 4 worker processes whose breakers share one store.",
        subcommands: [DemoRunCommand.self, DemoWorkerCommand.self],
        defaultSubcommand: DemoRunCommand.self)
}

/// The demo itself: producer, worker processes, progress, contrast and the operator's view of the circuits.
struct DemoRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the demo (the default).")

    @Option(
        help: ArgumentHelp(
            "Where the breakers are: a SQLite file or a server URL (default: a SQLite file in the demo's folder).",
            valueName: "path|url"))
    var db: String?

    @Option(help: "Worker processes.") var workers: Int = 4
    @Option(help: "Failures that open a circuit.") var threshold: Int = 5
    @Option(help: "How long a circuit stays open, in milliseconds.") var openForMs: Int = 800

    static var tenants: [String] { DemoTenants.all }
    static var failingTenant: String { DemoTenants.failing }

    struct Outcome {
        var counts: [String: JobQueue.TenantCounts]
        var summaries: [DemoWorkerSummary]
        /// When the run started (ms since 1970).
        var epoch: Int64
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "circuitry-demo-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let breakers = db ?? folder.appendingPathComponent("breakers.sqlite").path
        let location = try StoreLocation(breakers)
        let logger = DemoOutput.logger
        // A server may hold the circuits of an earlier run: start from closed ones.
        try await location.withStore(logger: logger) { store in
            for tenant in Self.tenants { _ = try await store.remove(DemoTenants.circuit(tenant)) }
        }

        DemoOutput.say(
            """
            Circuitry demo: \(workers) worker processes consume one job queue for \(Self.tenants.count) tenants.
            Each job sends an email through the breaker "send-email/<tenant>" (threshold \(threshold), \
            open \(openForMs) ms).
            The \(Self.failingTenant) upstream answers 503 from +0.3 s to +2.3 s; rejected jobs are re-enqueued \
            for the circuit's retry-after time.
            Files: \(folder.path)

            ── Run 1: breakers shared by every process (\(location.storeDescription))
            """)
        let shared = try await runQueue(folder: folder, label: "shared", breakers: breakers)
        let history = try await location.withStore(logger: logger) { store in
            try await store.history(of: nil, afterID: 0, limit: 1000).filter {
                $0.transition.at.millisecondsSince1970 >= shared.epoch
            }
        }
        try summarize(shared, history: history)

        DemoOutput.say("\n── Run 2: the same jobs with a breaker in each process's memory (InMemoryCircuitStore)")
        let local = try await runQueue(folder: folder, label: "in-memory", breakers: nil)
        try summarize(local, history: nil)

        let sharedFailures = shared.counts[Self.failingTenant]?.failed ?? 0
        let localFailures = local.counts[Self.failingTenant]?.failed ?? 0
        func healthy(_ outcome: Outcome) -> String {
            let healthy = Self.tenants.filter { $0 != Self.failingTenant }.compactMap { outcome.counts[$0] }
            return
                "\(healthy.map(\.done).reduce(0, +)) of \(healthy.map { $0.done + $0.failed + $0.waiting }.reduce(0, +))"
        }
        DemoOutput.say(
            """

            ── Contrast
            Failing calls that reached \(Self.failingTenant)'s broken upstream:
              shared store     \(sharedFailures)   (threshold \(threshold): the processes' failures count toward one \
            circuit)
              in-memory        \(localFailures)   (about \(workers) processes × threshold \(threshold), and each \
            process probes on its own)
            Healthy tenants' jobs done: shared \(healthy(shared)), in-memory \(healthy(local)).
            """)

        DemoOutput.say("\n── The circuits, as any process or operator sees them:")
        for command in OperatorCommand.all(for: location) { command.show() }
        DemoOutput.say("\nNothing is left running. Remove the files with: rm -rf \(folder.path)")
    }

    /// Fills a fresh queue for 3 s while the worker processes drain it; returns the per-tenant counts.
    private func runQueue(folder: URL, label: String, breakers: String?) async throws -> Outcome {
        let queuePath = folder.appendingPathComponent("jobs-\(label).sqlite").path
        let queue = try JobQueue(path: queuePath)
        try queue.createSchema()
        let epoch = Timestamp(Date()).millisecondsSince1970
        let executable = URL(
            fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        var processes: [Process] = []
        defer { for process in processes where process.isRunning { process.terminate() } }
        for index in 1...workers {
            let process = Process()
            process.executableURL = executable
            var arguments = [
                "worker", "--queue", queuePath, "--index", "\(index)", "--epoch", "\(epoch)",
                "--failing-tenant", Self.failingTenant, "--outage-start", "\(epoch + 300)",
                "--outage-end", "\(epoch + 2300)", "--threshold", "\(threshold)", "--open-for-ms", "\(openForMs)",
                "--report", folder.appendingPathComponent("\(label)-\(index).json").path,
            ]
            if let breakers { arguments += ["--breakers", breakers] }
            process.arguments = arguments
            try process.run()
            processes.append(process)
        }

        // The producer: one job per tenant every 25 ms for 3 s, with a progress line every 500 ms.
        let start = ContinuousClock.now
        var tick = 0
        while ContinuousClock.now - start < .seconds(3) {
            let now = Timestamp(Date()).millisecondsSince1970
            try queue.transaction {
                for tenant in Self.tenants { try queue.enqueue(tenant: tenant, runAt: now) }
            }
            tick += 1
            if tick % 20 == 0 { try progress(queue, epoch: epoch, breakers: breakers) }
            try await Task.sleep(until: start + .milliseconds(25 * tick))
        }
        try queue.markProducerDone()

        let deadline = ContinuousClock.now + .seconds(30)
        while processes.contains(where: \.isRunning) {
            guard ContinuousClock.now < deadline else { throw DemoError("the workers did not finish within 30 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        try progress(queue, epoch: epoch, breakers: breakers)
        let summaries = try (1...workers).map { index in
            try JSONDecoder().decode(
                DemoWorkerSummary.self,
                from: Data(contentsOf: folder.appendingPathComponent("\(label)-\(index).json")))
        }
        return Outcome(counts: try queue.counts(), summaries: summaries, epoch: epoch)
    }

    private func progress(_ queue: JobQueue, epoch: Int64, breakers: String?) throws {
        let counts = try queue.counts()
        let elapsed = Double(Timestamp(Date()).millisecondsSince1970 - epoch) / 1000
        var line = String(format: "  +%4.1fs ", elapsed)
        for tenant in Self.tenants {
            let count = counts[tenant] ?? .init()
            line += " \(tenant) \(count.done)✓"
            if count.failed > 0 { line += " \(count.failed)✗" }
            if count.deferred > 0 { line += " \(count.deferred)⏳" }
        }
        DemoOutput.say(line)
    }

    private func summarize(_ outcome: Outcome, history: [HistoryEntry]?) throws {
        DemoOutput.say("\n  tenant     done  failed  deferred")
        for tenant in Self.tenants {
            let count = outcome.counts[tenant] ?? .init()
            DemoOutput.say(
                "  " + tenant.padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(format: "%6d %7d %9d", count.done, count.failed, count.deferred))
        }
        if let history {
            DemoOutput.say("\n  Timeline of the shared circuit (from its history table; one row per transition):")
            for entry in history {
                let transition = entry.transition
                DemoOutput.say(
                    "    \(transition.circuit)  \(transition.from) → \(transition.to)  (\(transition.reason))  by "
                        + transition.actor)
            }
        } else {
            DemoOutput.say("\n  Timelines: each process kept its own circuit, so each tripped on its own:")
            for summary in outcome.summaries {
                DemoOutput.say("    \(summary.worker): \(summary.transitions.count) transitions")
            }
        }
    }
}

/// Output shared by the demo and its workers (the workers inherit the demo's standard output).
/// The tenants of the demo's queue, and the circuit of each.
enum DemoTenants {
    static let all = ["acme", "globex", "initech", "umbrella"]
    /// The tenant whose upstream fails for a while.
    static let failing = "globex"

    static func circuit(_ tenant: String) -> String { "send-email/\(tenant)" }
}

enum DemoOutput {
    /// The library's warnings and errors, on standard error.
    static var logger: Logger {
        var logger = Logger(label: "circuitry-demo") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }

    static func say(_ text: String, newline: Bool = true) {
        FileHandle.standardOutput.write(Data((newline ? text + "\n" : text).utf8))
    }

    static func transitionLine(_ transition: CircuitTransition, epoch: Int64) -> String {
        let elapsed = Double(transition.at.millisecondsSince1970 - epoch) / 1000
        return String(format: "  +%4.1fs ", elapsed)
            + "  \(transition.circuit)  \(transition.from) → \(transition.to)  (\(transition.reason))  by \(transition.actor)"
    }
}
