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

    /// Makes `change` to the circuit (see ``OperatorChange/apply(to:create:factory:store:)``) and prints what was
    /// done; reports errors as the command does.
    func apply(_ change: OperatorChange, create: Bool, logging: LoggingOptions) async throws {
        try await withDatabase(logging: logging) { factory in
            Console.out(try await change.apply(to: name, create: create, factory: factory, store: store))
        }
    }

    /// Runs `body` with a factory over the database, which must exist; reports errors as the command does.
    func withDatabase(logging: LoggingOptions, _ body: (BreakerFactory) async throws -> Void) async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: true, logger: logging.logger, body)
        }
    }
}

/// What `trip`, `close` and `reset` change, as the command and `circuitry serve`'s POST requests both make it: the one
/// place where an operator's change is checked and written.
enum OperatorChange: Sendable {
    /// `trip`: forced open for `duration`, or until closed or reset.
    case trip(for: DurationArgument?, reason: String?)
    /// `close`: forced closed until reset.
    case close(reason: String?)
    /// `reset`: closed with zero counts in a new generation, no override.
    case reset

    /// Makes the change to `name` once the circuit is known to exist, or `create` allows a new one; returns what the
    /// command prints. A circuit that does not exist is a ``NoSuchCircuit``, and nothing is written.
    ///
    /// The check and the change are two operations: a circuit forgotten or pruned between them is created again by
    /// the change, which is what the operator asked for by its (right) name.
    func apply(
        to name: String, create: Bool, factory: BreakerFactory, store: StoreOptions
    ) async throws -> String {
        if !create { _ = try await NoSuchCircuit.require(name, in: factory, store: store, canCreate: true) }
        switch self {
        case .trip(let duration, let reason):
            // The end is counted on the store's clock (a server's, for PostgreSQL), never on this host's.
            if let duration {
                let until = try await factory.forceOpen(name, for: duration.duration, reason: reason)
                return "\(name): forced open until \(until) (for \(duration))"
            }
            try await factory.forceOpen(name, until: nil, reason: reason)
            return "\(name): forced open until it is closed or reset"
        case .close(let reason):
            try await factory.forceClosed(name, reason: reason)
            return "\(name): forced closed until it is reset"
        case .reset:
            try await factory.reset(name)
            return "\(name): reset (closed, no override)"
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
        try await circuit.apply(.trip(for: duration, reason: reason), create: creation.create, logging: logging)
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
        try await circuit.apply(.close(reason: reason), create: creation.create, logging: logging)
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
        try await circuit.apply(.reset, create: creation.create, logging: logging)
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
