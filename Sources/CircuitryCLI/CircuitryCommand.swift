import ArgumentParser

/// `circuitry`: guard shell commands with shared circuit breakers, and operate the circuits.
@main
struct CircuitryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuitry",
        abstract: "Guard commands with circuit breakers shared by every process of a host, and operate them.",
        discussion: """
            Every subcommand takes --db PATH, the SQLite database the breakers share; $CIRCUITRY_DB is the default.

            Exit statuses:
              0    success
              1    show or forget of a circuit that the database does not have
              64   usage error (bad option, duration or circuit name; no database given)
              74   the database cannot be used (cannot open, not a database, busy, ...)
              75   run: the circuit rejected the call; the command was not started
              124  run: --timeout killed the command
              126  run: the command could not be executed; 127: it was not found
              else run exits with the command's own status (128 + N for signal N)
            """,
        subcommands: [
            RunCommand.self, ListCommand.self, ShowCommand.self, TripCommand.self, CloseCommand.self,
            ResetCommand.self, ForgetCommand.self, HistoryCommand.self, PruneCommand.self,
        ]
    )

    /// Every diagnostic, usage errors included, starts with the command's name, as Unix tools do.
    static var _errorPrefix: String { "circuitry: " }
}
