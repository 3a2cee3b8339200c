import ArgumentParser
import Circuitry
import CircuitryWorkerReport
import Foundation

/// Takes one half-open probe lease, reports it, and then blocks forever without reporting the probe's outcome:
/// the test SIGKILLs this process to prove that a dead worker's lease cannot wedge the circuit.
struct HoldProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold-probe", abstract: "Acquire a probe lease, report it, then block until killed.")

    @OptionGroup var breaker: BreakerOptions

    @Option(help: "Give up if no probe was admitted within this many milliseconds.")
    var withinMs: Int = 10_000

    func run() async throws {
        let callbacks = CallbackLog()
        try breaker.barrier.arriveAndWait()
        try await breaker.withFactory(callbacks: callbacks) { _, factory in try await hold(factory) }
    }

    private func hold(_ factory: BreakerFactory) async throws {
        let circuit = try factory.breaker(for: breaker.circuit)
        let deadline = ContinuousClock.now + .milliseconds(withinMs)
        var attempts = 0
        while ContinuousClock.now < deadline {
            attempts += 1
            // Admission is the only thing asked of the store here; a closed circuit's admission is not a probe.
            if let permit = try? await circuit.acquire() {
                guard permit.isProbe else {
                    try emit(Holding(holding: false, pid: getpid(), attempts: attempts))
                    throw ExitCode(2)
                }
                try emit(
                    Holding(
                        holding: true, pid: getpid(), generation: permit.generation, lease: permit.lease,
                        admittedAt: permit.admittedAt.millisecondsSince1970, attempts: attempts))
                // Block until SIGKILLed, as a worker that hangs or dies mid-probe would.
                while true { pause() }
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        try emit(Holding(holding: false, pid: getpid(), attempts: attempts))
        throw ExitCode(3)
    }
}
