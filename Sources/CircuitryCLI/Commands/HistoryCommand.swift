import ArgumentParser
import Circuitry
import CircuitryCommandLine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `circuitry history [NAME] [--json] [--follow] [--after ID]`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Print the transition history, oldest first; --follow prints new transitions as they commit.",
        discussion: """
            With --json, one JSON object per transition and per line (JSON Lines). --follow checks the database \
            for new transitions every 200 ms (a plain read that takes no lock) until SIGINT, SIGTERM or SIGHUP, \
            then exits with 0. To resume a follow that stopped, pass the id of the last transition it printed to \
            --after: it prints every later transition once, in commit order. Transitions that the history pruned \
            before they were printed (each circuit keeps its newest 100 by default) are reported on standard \
            error, never skipped silently.
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

    @Option(
        help: ArgumentHelp(
            "Print only transitions after the one with this id (at most --limit of them; with --follow, all).",
            valueName: "id"))
    var after: Int64?

    @OptionGroup var logging: LoggingOptions

    /// How often `--follow` looks for new transitions.
    static let pollInterval = Duration.milliseconds(200)

    func validate() throws {
        if let name { try validateCircuitName(name) }
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        guard (after ?? 0) >= 0 else { throw ValidationError("--after must not be negative") }
    }

    func run() async throws {
        try await reportingErrors {
            try await store.withFactory(mustExist: true, logger: logging.logger) { factory in
                if follow { Signals.install([SIGINT, SIGTERM, SIGHUP]) }
                var position: HistoryPosition = .latest
                if let after {
                    position = .after(after)
                    if !follow { _ = printEntries(try await factory.history(of: name, afterID: after, limit: limit)) }
                } else if limit > 0 {
                    position =
                        printEntries(try await factory.history(of: name, limit: limit)).map { .after($0) } ?? .latest
                }
                guard follow else { return }
                try await Self.follow(
                    factory.transitions(of: name, after: position, pollInterval: Self.pollInterval), json: json)
            }
        }
    }

    /// Prints the watch's events until SIGINT, SIGTERM or SIGHUP.
    private static func follow(_ watch: TransitionWatch, json: Bool) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await event in watch {
                    switch event {
                    case .transition(let entry): printEntry(entry, json: json)
                    case .missed(let gap):
                        Console.error(
                            "transitions of \(Console.oneLine(gap.circuit).debugDescription) after #\(gap.after) and "
                                + "before #\(gap.before) were pruned from the history before they were printed")
                    }
                }
            }
            // The watch ends when its task is cancelled: at the first signal.
            group.addTask {
                while Signals.received.load(ordering: .sequentiallyConsistent) == 0 {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Prints the entries; returns the id of the last one, or `nil` if there were none.
    private func printEntries(_ entries: [HistoryEntry]) -> Int64? {
        for entry in entries { Self.printEntry(entry, json: json) }
        return entries.last?.id
    }

    private static func printEntry(_ entry: HistoryEntry, json: Bool) {
        Console.out(json ? JSONLines.line(TransitionJSON(entry)) : TextFormat.historyLine(entry))
    }
}
