#if ServiceLifecycle

import ArgumentParser
import Circuitry
import CircuitryServiceLifecycle
import CircuitryWorkerReport
import Foundation
import ServiceLifecycle
import Synchronization

/// Runs successful calls in a swift-service-lifecycle `ServiceGroup` beside the factory (a `Service` that flushes
/// batched successes), until SIGTERM starts a graceful shutdown; then prints a ``ServeReport``.
///
/// Prints a ``ServeProgress`` line once `--announce-after` successes ran, and another when `--calls` successes ran
/// (the worker then idles until SIGTERM).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run successful calls beside the factory's service in a service group until SIGTERM; report.")

    @OptionGroup var breaker: BreakerOptions

    @Option(help: "How old a batch of successes gets before the factory's service writes it, in milliseconds.")
    var flushIntervalMs: Int = 3_600_000

    @Option(help: "Make this many successful calls, then idle until SIGTERM. Default: calls until SIGTERM.")
    var calls: Int?

    @Option(help: "Print a progress line once this many successes ran.")
    var announceAfter: Int = 100

    @Option(help: "Pause between calls, in milliseconds.")
    var pauseMs: Int = 1

    func validate() throws {
        guard flushIntervalMs >= 0, (calls ?? 0) >= 0, announceAfter >= 1, pauseMs >= 0 else {
            throw ValidationError("counts and durations must not be negative; --announce-after at least 1")
        }
    }

    func run() async throws {
        let callbacks = CallbackLog()
        try breaker.barrier.arriveAndWait()
        try await breaker.withFactory(callbacks: callbacks, flushInterval: .milliseconds(flushIntervalMs)) {
            _, factory in
            let loop = CallLoop(
                breaker: try factory.breaker(for: breaker.circuit), calls: calls, announceAfter: announceAfter,
                pause: .milliseconds(pauseMs))
            // The factory first: a group shuts its services down in reverse order, the calls before the final flush.
            let group = ServiceGroup(
                services: [factory, loop], gracefulShutdownSignals: [.sigterm], logger: BreakerOptions.logger)
            try await group.run()
            try emit(ServeReport(successes: loop.successes, errors: loop.errors))
        }
    }
}

/// The calls: successes one after another until a graceful shutdown (or `calls` of them, then idle until one).
final class CallLoop: Service, Sendable {
    private struct Counts {
        var successes = 0
        var errors: [String] = []
    }

    let breaker: CircuitBreaker
    let calls: Int?
    let announceAfter: Int
    let pause: Duration
    private let counts = Mutex(Counts())

    init(breaker: CircuitBreaker, calls: Int?, announceAfter: Int, pause: Duration) {
        self.breaker = breaker
        self.calls = calls
        self.announceAfter = announceAfter
        self.pause = pause
    }

    var successes: Int { counts.withLock { $0.successes } }
    var errors: [String] { counts.withLock { $0.errors } }

    func run() async throws {
        var ran = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled, ran < calls ?? .max {
            do {
                try await breaker.execute {}
                ran += 1
                counts.withLock { $0.successes = ran }
            } catch {
                counts.withLock { if $0.errors.count < 5 { $0.errors.append("\(error)") } }
            }
            if ran == announceAfter { try await announce(ran) }
            if pause > .zero { try? await Task.sleep(for: pause) }
        }
        guard ran == calls else { return }
        try await announce(ran)
        // Idle: no call writes anything from now on; only the factory's service may.
        try? await gracefulShutdown()
    }

    private func announce(_ ran: Int) async throws {
        let at = CallsCommand.wallNow()
        let batched = (try? await breaker.snapshot().unflushedSuccesses) ?? -1
        try emit(ServeProgress(successes: ran, at: at, batched: batched))
    }
}

#endif
