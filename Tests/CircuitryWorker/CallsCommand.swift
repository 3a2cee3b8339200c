import ArgumentParser
import Circuitry
import CircuitryWorkerReport
import Foundation

#if Redis
import CircuitryRedis
#endif

/// The simulated upstream's failure.
struct UpstreamDown: Error, CustomStringConvertible {
    var description: String { "the simulated upstream is down" }
}

/// Runs calls through one circuit with the two-step API and reports every admission, rejection and outcome.
struct CallsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls", abstract: "Run calls through a circuit and report what happened.")

    @OptionGroup var breaker: BreakerOptions

    @Option(help: "The most calls to make (admitted or rejected).")
    var calls: Int = 50

    @Option(help: "Stop after this many milliseconds, whatever the count.")
    var durationMs: Int = 20_000

    @Option(
        help: """
            How calls end: fail, succeed, or a pattern of S and F cycled over the calls (e.g. SFF).
            """)
    var outcome: String = "succeed"

    @Option(help: "Calls fail until this wall-clock instant (ms since 1970), then follow --outcome.")
    var failUntil: Int64?

    @Option(
        help:
            "Calls fail for this many milliseconds after the store is open (after the start barrier), then follow --outcome."
    )
    var failForMs: Int?

    @Option(help: "How long each admitted call's work takes, in milliseconds.")
    var workMs: Int = 0

    @Option(help: "How long to wait after a rejection before the next call, in milliseconds.")
    var rejectPauseMs: Int = 5

    @Flag(help: "Stop at the first call admitted while the circuit is closed (not a probe) after a rejection.")
    var untilClosed = false

    @Flag(help: "Stop at the first rejection.")
    var untilRejected = false

    @Flag(help: "Stop after the first half-open probe this process ran (once its outcome is recorded).")
    var untilProbed = false

    @Flag(
        help:
            "Calls fail until the circuit's history shows it opened (the upstream is down until then), then follow --outcome."
    )
    var failUntilOpened = false

    @Option(help: "Stop after the first call that runs once this file exists (once its outcome is recorded).")
    var untilFile: String?

    func validate() throws {
        guard
            outcome == "fail" || outcome == "succeed" || (!outcome.isEmpty && outcome.allSatisfy({ "SF".contains($0) }))
        else { throw ValidationError("--outcome is fail, succeed or a pattern of S and F") }
        guard calls >= 0, durationMs >= 0, workMs >= 0, rejectPauseMs >= 0 else {
            throw ValidationError("counts and durations must not be negative")
        }
    }

    func run() async throws {
        let callbacks = CallbackLog()
        try breaker.barrier.arriveAndWait()
        // The store is opened after the barrier, so that the start-up race test can race the opening itself.
        try await breaker.withFactory(callbacks: callbacks) { store, factory in
            try await run(store: store, factory: factory, callbacks: callbacks)
        }
    }

    private func run(store: any CircuitStore, factory: BreakerFactory, callbacks: CallbackLog) async throws {
        // Counted from the open store, not the barrier: connecting to PostgreSQL can take longer than the window.
        let failUntil = self.failUntil ?? failForMs.map { Self.wallNow() + Int64($0) }
        let circuit = try factory.breaker(for: breaker.circuit)
        var report = WorkerReport(actor: breaker.actor, pid: getpid())
        let started = ContinuousClock.now
        let deadline = started + .milliseconds(durationMs)

        for index in 0..<calls where ContinuousClock.now < deadline {
            let last = untilFile.map { FileManager.default.fileExists(atPath: $0) } ?? false
            let asked = ContinuousClock.now
            let permit: CircuitPermit
            do {
                permit = try await circuit.acquire()
            } catch let rejection as CircuitRejected {
                let acquireMs = milliseconds(since: asked)
                report.slowestAcquireMs = max(report.slowestAcquireMs, acquireMs)
                report.rejected += 1
                report.events.append(
                    CallEvent(
                        index: index, kind: .rejected, reason: Self.describe(rejection.reason),
                        retryAfter: rejection.retryAfter?.millisecondsSince1970, at: Self.wallNow(),
                        acquireMs: acquireMs))
                if untilRejected { break }
                try await idle(milliseconds: rejectPauseMs)
                continue
            } catch {
                let acquireMs = milliseconds(since: asked)
                report.slowestAcquireMs = max(report.slowestAcquireMs, acquireMs)
                report.acquireErrors += 1
                report.note(error)
                report.events.append(CallEvent(index: index, kind: .error, at: Self.wallNow(), acquireMs: acquireMs))
                try await idle(milliseconds: rejectPauseMs)
                continue
            }
            let acquireMs = milliseconds(since: asked)
            report.slowestAcquireMs = max(report.slowestAcquireMs, acquireMs)
            let answeredAt = Self.wallNow()
            report.admitted += 1
            if permit.isProbe { report.probes += 1 }
            if report.rejected > 0 { report.ranAfterFirstRejection += 1 }

            var fails = willFail(index, failUntil: failUntil)
            if failUntilOpened, try await factory.history(of: breaker.circuit, limit: 1).isEmpty { fails = true }
            try await idle(milliseconds: workMs)
            report.ran += 1
            if fails { report.failuresRun += 1 } else { report.successesRun += 1 }

            let recording = ContinuousClock.now
            do {
                if fails {
                    try await circuit.record(error: UpstreamDown(), for: permit)
                } else {
                    try await circuit.record(.success, for: permit)
                }
            } catch {
                report.recordErrors += 1
                report.note(error)
            }
            let recordMs = milliseconds(since: recording)
            report.slowestRecordMs = max(report.slowestRecordMs, recordMs)
            report.events.append(
                CallEvent(
                    index: index, kind: .ran, admittedAt: permit.admittedAt.millisecondsSince1970,
                    generation: permit.generation, lease: permit.lease, outcome: fails ? "failure" : "success",
                    at: answeredAt, acquireMs: acquireMs, recordMs: recordMs))
            if untilClosed, !permit.isProbe, report.rejected > 0 { break }
            if untilProbed, permit.isProbe { break }
            if last { break }
        }

        do {
            try await factory.flush()
            report.flushed = true
        } catch {
            report.note(error)
        }
        if let waits = (store as? SQLiteCircuitStore)?.busyWaits {
            report.busyWaitMs =
                Double(waits.total.components.attoseconds) / 1e15
                + Double(waits.total.components.seconds) * 1000
            report.busyWaits = waits.count
        }
        #if Redis
        // On Redis, the waits are the retries of updates that lost a race.
        if let conflicts = (store as? RedisCircuitStore)?.conflicts {
            report.busyWaitMs =
                Double(conflicts.waited.components.attoseconds) / 1e15
                + Double(conflicts.waited.components.seconds) * 1000
            report.busyWaits = conflicts.count
            report.mostUpdateAttempts = conflicts.mostAttempts
        }
        #endif
        report.callbacks = callbacks.all
        report.elapsedMs = milliseconds(since: started)
        try emit(report)
    }

    private func willFail(_ index: Int, failUntil: Int64?) -> Bool {
        if let failUntil, Self.wallNow() < failUntil { return true }
        switch outcome {
        case "fail": return true
        case "succeed": return false
        default:
            let pattern = Array(outcome)
            return pattern[index % pattern.count] == "F"
        }
    }

    static func wallNow() -> Int64 { Timestamp(Date()).millisecondsSince1970 }

    static func describe(_ reason: CircuitRejected.Reason) -> String {
        switch reason {
        case .open: "open"
        case .forcedOpen: "forced-open"
        case .probesExhausted: "probes-exhausted"
        }
    }
}
