import ArgumentParser
import Circuitry
import CircuitryCommandLine

/// `circuitry list [--json]`.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List every circuit: name, state, generation, counts, expiry, override.",
        discussion: "With --json, one JSON object per circuit and per line (JSON Lines); no circuits, no lines."
    )

    @OptionGroup var store: StoreOptions

    @Flag(help: "One JSON object per circuit and per line.")
    var json = false

    func run() async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: true, logger: Console.logger) { factory in
                let snapshots = try await factory.snapshots()
                if json {
                    for snapshot in snapshots { Console.out(JSONLines.line(CircuitJSON(snapshot))) }
                } else {
                    Console.out(TextFormat.table(snapshots))
                }
            }
        }
    }
}

/// `circuitry show NAME [--json]`.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one circuit with its recent history; exit 1 if the database has no such circuit.",
        discussion: "With --json, one JSON object on one line, with the keys of list --json and a history array."
    )

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The circuit's name.", valueName: "name"))
    var name: String

    @Flag(help: "One JSON object on one line.")
    var json = false

    @Option(help: ArgumentHelp("How many of the latest transitions to show.", valueName: "n"))
    var historyLimit = 10

    func validate() throws {
        try validateCircuitName(name)
        guard historyLimit >= 0 else { throw ValidationError("--history-limit must not be negative") }
    }

    func run() async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: true, logger: Console.logger) { factory in
                guard let snapshot = try await factory.snapshot(of: name) else {
                    Console.error("no circuit named \"\(name)\" in \(try store.displayLocation)")
                    throw ExitCode(status: ExitStatus.notFound)
                }
                let history = historyLimit == 0 ? [] : try await factory.history(of: name, limit: historyLimit)
                if json {
                    Console.out(JSONLines.line(CircuitJSON(snapshot, history: history)))
                } else {
                    Console.out(TextFormat.details(snapshot, history: history))
                }
            }
        }
    }
}
