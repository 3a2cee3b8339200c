import ArgumentParser
import Circuitry
import CircuitryCommandLine

/// The name argument and `--db` of the commands that act on one circuit.
struct CircuitArguments: ParsableArguments {
    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The circuit's name.", valueName: "name"))
    var name: String

    func validate() throws {
        try validateCircuitName(name)
    }
}

/// `circuitry trip NAME [--for DURATION] [--reason TEXT]`.
struct TripCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trip",
        abstract: "Force a circuit open in every process, for a while or until it is closed or reset."
    )

    @OptionGroup var circuit: CircuitArguments

    @Option(
        name: .customLong("for"),
        help: ArgumentHelp("How long to hold it open (default: until close or reset).", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var duration: DurationArgument?

    @Option(help: ArgumentHelp("Why, for the history and for rejected callers.", valueName: "text"))
    var reason: String?

    func run() async throws {
        try await reportingErrors {
            try await circuit.store.withFactory(mustExist: false, logger: Console.logger) { factory in
                // The end is counted on the store's clock (a server's, for PostgreSQL), never on this host's.
                let when: String
                if let duration {
                    let until = try await factory.forceOpen(circuit.name, for: duration.duration, reason: reason)
                    when = "until \(until)"
                } else {
                    try await factory.forceOpen(circuit.name, until: nil, reason: reason)
                    when = "until it is closed or reset"
                }
                Console.out("\(circuit.name): forced open \(when)")
            }
        }
    }
}

/// `circuitry close NAME [--reason TEXT]`.
struct CloseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "close",
        abstract: "Force a circuit closed in every process until it is reset: calls are admitted, it never trips."
    )

    @OptionGroup var circuit: CircuitArguments

    @Option(help: ArgumentHelp("Why, for the history.", valueName: "text"))
    var reason: String?

    func run() async throws {
        try await reportingErrors {
            try await circuit.store.withFactory(mustExist: false, logger: Console.logger) { factory in
                try await factory.forceClosed(circuit.name, reason: reason)
                Console.out("\(circuit.name): forced closed until it is reset")
            }
        }
    }
}

/// `circuitry reset NAME`.
struct ResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Close a circuit with zero counts in a new generation, and remove any override."
    )

    @OptionGroup var circuit: CircuitArguments

    func run() async throws {
        try await reportingErrors {
            try await circuit.store.withFactory(mustExist: false, logger: Console.logger) { factory in
                try await factory.reset(circuit.name)
                Console.out("\(circuit.name): reset (closed, no override)")
            }
        }
    }
}

/// `circuitry forget NAME`.
struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Remove a circuit's record (its history stays); exit 1 if there was none.",
        discussion: "The circuit's next call starts a fresh closed circuit."
    )

    @OptionGroup var circuit: CircuitArguments

    func run() async throws {
        try await reportingErrors {
            try await circuit.store.withFactory(mustExist: false, logger: Console.logger) { factory in
                guard try await factory.forget(circuit.name) else {
                    Console.error("no circuit named \"\(circuit.name)\" in \(try circuit.store.displayLocation)")
                    throw ExitCode(status: ExitStatus.notFound)
                }
                Console.out("\(circuit.name): forgotten")
            }
        }
    }
}

/// `circuitry prune --idle DURATION`.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove closed circuits (without an override) that nothing has written for a while.",
        discussion: "Their history stays. A pruned circuit that is used again starts fresh and closed."
    )

    @OptionGroup var store: StoreOptions

    @Option(
        help: ArgumentHelp("Remove circuits untouched for at least this long.", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var idle: DurationArgument

    func run() async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: true, logger: Console.logger) { factory in
                let pruned = try await factory.prune(idleFor: idle.duration)
                for name in pruned { Console.out(name) }
                Console.error("pruned \(pruned.count) circuit(s) idle for \(idle)")
            }
        }
    }
}
