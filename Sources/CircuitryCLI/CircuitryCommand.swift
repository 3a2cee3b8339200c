import ArgumentParser
import CircuitryCommandLine

/// `circuitry`: guard shell commands with shared circuit breakers, and operate the circuits.
@main
struct CircuitryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuitry",
        abstract: "Guard commands with circuit breakers that many processes share, and operate them.",
        discussion: """
            Every subcommand takes --db PATH, the SQLite database file that the processes of one host share, or \
            --db URL, a database on a server that processes on many hosts share. $CIRCUITRY_DB is the default. \
            Only run (on its first call) and init create a database; the others refuse one that does not exist, \
            and trip, close and reset refuse a circuit that does not exist unless --create is given.

            URL: postgres://user[:password]@host[:port]/database[?parameters]
              (or postgresql://). Parameters: sslmode, sslrootcert,
              connect_timeout (seconds, default 5), application_name, schema,
              table_prefix. Messages show the URL without its password.

            Durations: a number and a unit (ms, s, m or min, h, d, w), several
              from the largest unit down: 500ms, 90s, 1.5s, 1h30m, 2d, 1w.

            Environment:
              CIRCUITRY_DB  the database when --db is not given
              NO_COLOR      no colour in list and show (unless --color always)

            \(ExitStatus.summary)

            Completion: circuitry --generate-completion-script bash|zsh|fish
            The full reference is Docs/cli.md in the package.
            """,
        version: CircuitryVersion.current,
        subcommands: [
            RunCommand.self, ListCommand.self, ShowCommand.self, TripCommand.self, CloseCommand.self,
            ResetCommand.self, ForgetCommand.self, HistoryCommand.self, PruneCommand.self, InitCommand.self,
            ServeCommand.self,
        ]
    )

    /// Every diagnostic, usage errors included, starts with the command's name, as Unix tools do.
    static var _errorPrefix: String { "circuitry: " }

    /// ArgumentParser's `main`, after a look at the subcommand: a mistyped one gets a suggestion.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let error = unknownSubcommand(in: arguments) { exit(withError: error) }
        await mainOfAsynchronous(Self.self, arguments)
    }

    /// The names a first argument may be: the subcommands, and ArgumentParser's `help`.
    static var subcommandNames: [String] {
        configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
    }

    /// A usage error for a first argument that is neither an option nor a subcommand, suggesting the subcommands it
    /// is close to (`lst` → `list`, `hist` → `history`); `nil` otherwise.
    static func unknownSubcommand(in arguments: [String]) -> ValidationError? {
        guard let first = arguments.first, !first.hasPrefix("-"), !subcommandNames.contains(first) else { return nil }
        let names = subcommandNames.filter { $0 != "help" }
        // A subcommand it begins (`hist`), then the nearest by edits (`lst`).
        let begun = names.filter { $0.hasPrefix(first) }
        let close = Array(
            (begun + Suggestions.closest(to: first, among: names).filter { !begun.contains($0) }).prefix(2))
        let suggestion =
            close.isEmpty
            ? "; the subcommands are " + names.joined(separator: ", ")
            : "; did you mean " + close.map { "\"\($0)\"" }.joined(separator: " or ") + "?"
        return ValidationError("unknown subcommand \"\(first)\"" + suggestion)
    }
}

/// `Command.main(arguments)`, named through a generic parameter so that Swift picks AsyncParsableCommand's
/// asynchronous overload rather than ParsableCommand's synchronous one, which refuses asynchronous commands.
private func mainOfAsynchronous<Command: AsyncParsableCommand>(_: Command.Type, _ arguments: [String]) async {
    await Command.main(arguments)
}
