import ArgumentParser
import Circuitry
import CircuitryCommandLine
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `circuitry run --circuit NAME [options] -- COMMAND [ARGS...]`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command through a circuit breaker; exit with its status, or 75 if the circuit rejects it.",
        discussion: """
            A zero exit status counts as a success and any other as a failure (unless --ignore-exit names it). \
            The command runs in a process group of its own: --timeout and the signals passed on reach everything \
            it started. A command killed by --timeout counts as a failure. A command that a signal sent to \
            circuitry ends (it is passed on: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2), or a ^C or ^\\ \
            typed at the terminal, counts as neither, whether the signal kills it or it exits with 128 + the \
            signal's number (as a shell or a JVM does). Standard input, output and error are the command's own.

            Before the command: when the circuit rejects the call, the command is not started, circuitry exits \
            with 75 and standard error says until when, in ISO 8601. When the database cannot be used (it cannot be \
            opened or read: a damaged file, a server that cannot be reached), the command is not started either, \
            and circuitry exits with 74; so too when admitting the call must write (the circuit is half-open, or \
            time alone has changed it: its open period or a probe's lease ended) and another process holds the \
            write lock past the bound (1s on SQLite). Admitting a call to a closed circuit, and rejecting one while \
            it is open, are plain reads that wait for no lock: a busy database does not stop those.

            After the command: its outcome is written at once. If that fails (the lock stays busy past the bound, \
            the server is gone), circuitry still exits with the command's own status, and standard error says \
            "circuitry: the command's outcome (...) was not recorded: ...".

            The database is created on the first call if it does not exist. Every process that shares a circuit \
            should pass the same thresholds and durations.
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("The circuit's name.", valueName: "name"), completion: CircuitCompletion.names)
    var circuit: String

    @OptionGroup var breaker: BreakerSettingsOptions

    @Option(
        help: ArgumentHelp("Kill the command after this long (SIGTERM) and count a failure.", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var timeout: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "After --timeout, send SIGKILL if the command still runs this long after SIGTERM (default 2s).",
            valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var killAfter = DurationArgument(milliseconds: 2000)

    @Option(
        name: .customLong("ignore-exit"),
        help: ArgumentHelp(
            "An exit status that is not a failure (it counts as a success); repeatable.",
            valueName: "code"))
    var ignoredExitStatuses: [Int32] = []

    @Argument(
        parsing: .postTerminator, help: ArgumentHelp("The command and its arguments, after --.", valueName: "command"))
    var command: [String] = []

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try validateCircuitName(circuit)
        guard !command.isEmpty else { throw ValidationError("no command to run: give it after --") }
        for status in ignoredExitStatuses where !(1...255).contains(status) {
            throw ValidationError("--ignore-exit takes an exit status from 1 to 255; \(status) is not one")
        }
    }

    /// The breaker settings the options ask for: a probe's lease outlives the command and its kill grace.
    var settings: BreakerSettings {
        breaker.settings(probeTimeoutAtLeast: timeout.map { $0.duration + killAfter.duration + .seconds(1) })
    }

    func run() async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: false, settings: settings, logger: logging.logger) { factory in
                let breaker = try factory.breaker(for: circuit)
                let permit = try await breaker.acquire()

                Signals.install(Signals.forwarded)
                let pid: pid_t
                do throws(SpawnFailure) {
                    pid = try ChildProcess.spawn(command)
                } catch {
                    Console.error(error.description)
                    await record(.ignored, breaker: breaker, permit: permit, factory: factory)
                    throw ExitCode(status: error.shellStatus)
                }
                Signals.forward(toGroup: pid)
                let result = await ChildProcess.wait(
                    for: pid, timeout: timeout?.duration, killAfter: killAfter.duration,
                    whenEnded: { Signals.stopForwarding() })

                let received = Signals.received.load(ordering: .sequentiallyConsistent)
                let outcome = Self.outcome(
                    of: result, interruptedBy: received == 0 ? nil : received,
                    ignoredExitStatuses: Set(ignoredExitStatuses))
                if result.timedOut {
                    Console.error("\"\(command[0])\" ran longer than \(timeout?.description ?? "?") and was killed")
                }
                await record(outcome, breaker: breaker, permit: permit, factory: factory)
                let status = Self.exitStatus(of: result)
                if status != 0 { throw ExitCode(status: status) }
            }
        }
    }

    /// Records the outcome. The command has run: a failure to record it is reported but does not change the exit
    /// status, which is the command's.
    private func record(
        _ outcome: CallOutcome, breaker: CircuitBreaker, permit: CircuitPermit, factory: BreakerFactory
    ) async {
        do {
            try await breaker.record(outcome, for: permit)
            try await factory.flush()
        } catch let error as CircuitStoreError {
            Console.error("the command's outcome (\(outcome)) was not recorded: \(storageMessage(error))")
        } catch {
            Console.error("the command's outcome (\(outcome)) was not recorded: \(error)")
        }
    }

    /// How a run counts for the circuit: a timeout is a failure; a command ended by a signal that `circuitry`
    /// itself received (and passed on), or by a ^C or ^\ typed at the terminal while the command had it, was
    /// interrupted, which is neither. Ended by the signal means killed by it, or exited with 128 + its number after
    /// handling it.
    static func outcome(
        of result: ChildProcess.Result, interruptedBy signal: Int32?, ignoredExitStatuses: Set<Int32>
    ) -> CallOutcome {
        if result.timedOut { return .failure }
        if let signal, result.ending.isEnd(by: signal) { return .ignored }
        if result.heldTerminal, Self.typedSignals.contains(where: result.ending.isEnd(by:)) { return .ignored }
        switch result.ending {
        case .exited(0): return .success
        case .exited(let status): return ignoredExitStatuses.contains(status) ? .success : .failure
        case .killed: return .failure
        }
    }

    /// The signals a terminal sends its foreground group when a key is typed: ^C and ^\.
    static let typedSignals: [Int32] = [SIGINT, SIGQUIT]

    /// `circuitry run`'s own exit status: 124 after a timeout, else the command's status as a shell reports it.
    static func exitStatus(of result: ChildProcess.Result) -> Int32 {
        result.timedOut ? ExitStatus.timedOut : result.ending.shellStatus
    }
}
