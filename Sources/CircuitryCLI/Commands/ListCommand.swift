import ArgumentParser
import Circuitry
import CircuitryCommandLine
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A state to filter on, as typed: `closed`, `open` or `half-open`.
enum StateFilter: String, CaseIterable, ExpressibleByArgument, Sendable {
    case closed, open
    case halfOpen = "half-open"

    var state: CircuitState {
        switch self {
        case .closed: .closed
        case .open: .open
        case .halfOpen: .halfOpen
        }
    }
}

/// `circuitry list [--state STATE] [--prefix TEXT] [--json | --watch]`.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the circuits: state, since when, what comes next, the counts, and why.",
        discussion: """
            SINCE is when the circuit entered its state, NEXT what happens next and when (relative to the \
            database's clock), WHY the reason of the transition that put it there and the process that made it. \
            The counts are those of the current generation, which every change of state starts afresh: the \
            failures that opened a circuit are in WHY, not in FAILURES. show NAME gives the same with absolute \
            times.

            No circuits (or none that pass the filters), no lines. With --json, one JSON object per circuit and \
            per line (JSON Lines). With \
            --watch, the list is redrawn in place every --interval until SIGINT, SIGTERM or SIGHUP; it exits with 0.
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(
        name: .customLong("state"),
        help: ArgumentHelp("Only the circuits in this state, as of now; repeatable.", valueName: "state"))
    var states: [StateFilter] = []

    @Option(
        help: ArgumentHelp("Only the circuits whose name starts with this, as in send-email/.", valueName: "text"),
        completion: CircuitCompletion.names)
    var prefix: String?

    @Flag(help: "One JSON object per circuit and per line.")
    var json = false

    @Flag(help: "Redraw the list in place every --interval until interrupted.")
    var watch = false

    @Option(
        help: ArgumentHelp("How often --watch redraws (default 2s).", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var interval = DurationArgument(milliseconds: 2000)

    @Option(help: ArgumentHelp("Colour the states: auto (on a terminal, unless NO_COLOR is set), always, never."))
    var color: ColorMode = .auto

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if watch, json { throw ValidationError("--watch redraws a table; it cannot be combined with --json") }
    }

    func run() async throws {
        try await reportingErrors {
            try await store.withStore(mustExist: true, logger: logging.logger) { store, factory in
                guard watch else {
                    let reports = try await self.reports(factory: factory, store: store)
                    if json {
                        for report in reports { Console.out(JSONLines.line(CircuitJSON(report))) }
                    } else if !reports.isEmpty {
                        // No circuits, no lines: not even the header, as for --json.
                        Console.out(TextFormat.table(reports, palette: Palette.forStandardOutput(color)))
                    }
                    return
                }
                try await self.watch(factory: factory, store: store)
            }
        }
    }

    /// The circuits that pass the filters, with why and since when.
    private func reports(factory: BreakerFactory, store: any CircuitStore) async throws -> [CircuitReport] {
        let wanted = Set(states.map(\.state))
        let snapshots = try await factory.snapshots().filter { snapshot in
            (wanted.isEmpty || wanted.contains(snapshot.state))
                && (prefix.map { snapshot.record.name.hasPrefix($0) } ?? true)
        }
        return try await CircuitReport.make(snapshots, factory: factory, store: store)
    }

    /// `--watch`: on a terminal, each frame replaces the last; elsewhere, frames follow each other.
    private func watch(factory: BreakerFactory, store: any CircuitStore) async throws {
        Signals.install([SIGINT, SIGTERM, SIGHUP])
        let palette = Palette.forStandardOutput(color)
        let inPlace = isatty(STDOUT_FILENO) == 1
        while Signals.received.load(ordering: .sequentiallyConsistent) == 0 {
            let reports = try await reports(factory: factory, store: store)
            let now = reports.first?.now.description ?? Timestamp(Date()).description
            let title = "every \(interval), at \(now); ^C to stop"
            // Home and clear the screen: the frame replaces the last one without scrolling.
            let clear = inPlace ? "\u{1B}[H\u{1B}[2J" : ""
            let table = reports.isEmpty ? "no circuits" : TextFormat.table(reports, palette: palette)
            Console.out(clear + palette.faint(title) + "\n" + table + "\n")
            let deadline = ContinuousClock.now + interval.duration
            // Short naps, so that a signal ends the loop at once rather than after a whole interval.
            while ContinuousClock.now < deadline, Signals.received.load(ordering: .sequentiallyConsistent) == 0 {
                try? await Task.sleep(for: min(.milliseconds(50), deadline - ContinuousClock.now))
            }
        }
    }
}

/// `circuitry show NAME [--json]`.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one circuit, why and since when it is in its state, and its recent history.",
        discussion: """
            Exits with 66 if the database has no such circuit, naming those with a close name. With --json, one \
            JSON object on one line, with the keys of list --json and a history array.
            """
    )

    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The circuit's name.", valueName: "name"), completion: CircuitCompletion.names)
    var name: String

    @Flag(help: "One JSON object on one line.")
    var json = false

    @Option(help: ArgumentHelp("How many of the latest transitions to show.", valueName: "n"))
    var historyLimit = 10

    @Option(help: ArgumentHelp("Colour the state: auto (on a terminal, unless NO_COLOR is set), always, never."))
    var color: ColorMode = .auto

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        try validateCircuitName(name)
        guard historyLimit >= 0 else { throw ValidationError("--history-limit must not be negative") }
    }

    func run() async throws {
        try await reportingErrors {
            try await store.withStore(mustExist: true, logger: logging.logger) { store, factory in
                let snapshot = try await NoSuchCircuit.require(name, in: factory, store: self.store, canCreate: false)
                let history = try await factory.history(of: snapshot.record.name, limit: max(historyLimit, 1))
                let report = try await CircuitReport.make(snapshot, lastTransition: history.last, store: store)
                let shown = historyLimit == 0 ? [] : history
                if json {
                    Console.out(JSONLines.line(CircuitJSON(report, history: shown)))
                } else {
                    Console.out(TextFormat.details(report, history: shown, palette: Palette.forStandardOutput(color)))
                }
            }
        }
    }
}
