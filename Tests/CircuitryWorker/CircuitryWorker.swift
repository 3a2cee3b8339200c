import ArgumentParser

/// One worker process of the cross-process test suite.
///
/// Each subcommand opens the given database, optionally waits at a start barrier so that several processes start
/// together, does its part and prints one line of JSON on standard output (see `WorkerReport`).
@main
struct CircuitryWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuitry-worker",
        abstract: "A worker process for Circuitry's cross-process tests.",
        subcommands: [
            CallsCommand.self, HoldProbeCommand.self, HoldWriteLockCommand.self, HoldReadCommand.self,
            WaitForLockCommand.self,
        ] + serviceCommands,
        defaultSubcommand: CallsCommand.self
    )
}

/// The subcommands that need swift-service-lifecycle (trait `ServiceLifecycle`).
#if ServiceLifecycle
private let serviceCommands: [any ParsableCommand.Type] = [ServeCommand.self]
#else
private let serviceCommands: [any ParsableCommand.Type] = []
#endif
