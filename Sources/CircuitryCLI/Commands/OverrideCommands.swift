import ArgumentParser
import Circuitry
import CircuitryCommandLine

/// The name argument and `--db` of the commands that act on one circuit.
struct CircuitArguments: ParsableArguments {
    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The circuit's name.", valueName: "name"), completion: CircuitCompletion.names)
    var name: String

    func validate() throws {
        try validateCircuitName(name)
    }

    /// Runs `body` with a factory over the database, which must exist, once the circuit is known to exist, or
    /// `create` allows a new one. A circuit that does not exist is a ``NoSuchCircuit``, and nothing is written.
    ///
    /// The check and the change are two operations: a circuit forgotten or pruned between them is created again by
    /// the change, which is what the operator asked for by its (right) name.
    func withExistingCircuit(
        create: Bool, logging: LoggingOptions, _ body: (BreakerFactory) async throws -> Void
    ) async throws {
        try await withDatabase(logging: logging) { factory in
            if !create { _ = try await NoSuchCircuit.require(name, in: factory, store: store, canCreate: true) }
            try await body(factory)
        }
    }

    /// Runs `body` with a factory over the database, which must exist; reports errors as the command does.
    func withDatabase(logging: LoggingOptions, _ body: (BreakerFactory) async throws -> Void) async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: true, logger: logging.logger, body)
        }
    }
}

/// `--create`: the override may make a circuit that the database does not have yet.
struct CreateFlag: ParsableArguments {
    @Flag(help: "Create the circuit if the database does not have it (without it, a name it lacks is refused).")
    var create = false
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

    @OptionGroup var creation: CreateFlag

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await circuit.withExistingCircuit(create: creation.create, logging: logging) { factory in
            // The end is counted on the store's clock (a server's, for PostgreSQL), never on this host's.
            let when: String
            if let duration {
                let until = try await factory.forceOpen(circuit.name, for: duration.duration, reason: reason)
                when = "until \(until) (for \(duration))"
            } else {
                try await factory.forceOpen(circuit.name, until: nil, reason: reason)
                when = "until it is closed or reset"
            }
            Console.out("\(circuit.name): forced open \(when)")
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

    @OptionGroup var creation: CreateFlag

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await circuit.withExistingCircuit(create: creation.create, logging: logging) { factory in
            try await factory.forceClosed(circuit.name, reason: reason)
            Console.out("\(circuit.name): forced closed until it is reset")
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

    @OptionGroup var creation: CreateFlag

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await circuit.withExistingCircuit(create: creation.create, logging: logging) { factory in
            try await factory.reset(circuit.name)
            Console.out("\(circuit.name): reset (closed, no override)")
        }
    }
}

/// `circuitry forget NAME`.
struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Remove a circuit's record (its history stays); exit 66 if there was none.",
        discussion: "The circuit's next call starts a fresh closed circuit."
    )

    @OptionGroup var circuit: CircuitArguments

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await circuit.withDatabase(logging: logging) { factory in
            guard try await factory.forget(circuit.name) else {
                throw try await NoSuchCircuit.describing(
                    circuit.name, in: factory, store: circuit.store, canCreate: false)
            }
            Console.out("\(circuit.name): forgotten")
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
        help: ArgumentHelp("Remove circuits untouched for at least this long, as in 30d.", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var idle: DurationArgument

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: true, logger: logging.logger) { factory in
                let pruned = try await factory.prune(idleFor: idle.duration)
                for name in pruned { Console.out(name) }
                Console.error("pruned \(pruned.count) circuit(s) idle for \(idle)")
            }
        }
    }
}
