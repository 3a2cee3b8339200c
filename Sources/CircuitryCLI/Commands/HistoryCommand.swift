import ArgumentParser
import Circuitry
import CircuitryCommandLine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `circuitry history [NAME] [--json] [--follow]`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Print the transition history, oldest first; --follow prints new transitions as they commit.",
        discussion: """
            With --json, one JSON object per transition and per line (JSON Lines). --follow checks the database \
            for new transitions every 200 ms (a plain read that takes no lock) until SIGINT, SIGTERM or SIGHUP, \
            then exits with 0.
            """
    )

    @OptionGroup var store: StoreOptions

    @Argument(
        help: ArgumentHelp("Only this circuit's transitions.", valueName: "name"), completion: CircuitCompletion.names)
    var name: String?

    @Flag(help: "One JSON object per transition and per line.")
    var json = false

    @Flag(help: "Keep printing new transitions until interrupted.")
    var follow = false

    @Option(help: ArgumentHelp("How many of the latest transitions to print first.", valueName: "n"))
    var limit = 100

    @OptionGroup var logging: LoggingOptions

    /// How often `--follow` looks for new transitions.
    static let pollInterval = Duration.milliseconds(200)

    func validate() throws {
        if let name { try validateCircuitName(name) }
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
    }

    func run() async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: true, logger: logging.logger) { factory in
                if follow { Signals.install([SIGINT, SIGTERM, SIGHUP]) }
                let recent = limit == 0 ? [] : try await factory.history(of: name, limit: limit)
                var lastID = printEntries(recent)
                guard follow else { return }
                if lastID == nil { lastID = try await TransitionFeed.latestID(factory: factory, circuit: name) }
                let feed = TransitionFeed(
                    factory: factory, circuit: name, afterID: lastID ?? 0, pollInterval: Self.pollInterval,
                    isStopped: { Signals.received.load(ordering: .sequentiallyConsistent) != 0 })
                for try await entry in feed { _ = printEntries([entry]) }
            }
        }
    }

    /// Prints the entries; returns the id of the last one, or `nil` if there were none.
    private func printEntries(_ entries: [HistoryEntry]) -> Int64? {
        for entry in entries {
            Console.out(json ? JSONLines.line(TransitionJSON(entry)) : TextFormat.historyLine(entry))
        }
        return entries.last?.id
    }
}
