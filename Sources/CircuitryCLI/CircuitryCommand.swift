import ArgumentParser

/// `circuitry`: guard shell commands with shared circuit breakers, and operate the circuits.
@main
struct CircuitryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuitry",
        abstract: "Guard commands with circuit breakers that many processes share, and operate them.",
        discussion: """
            Every subcommand takes --db PATH, the SQLite database file that the processes of one host share, or \
            --db URL, a PostgreSQL database that processes on many hosts share. $CIRCUITRY_DB is the default.

            URL: postgres://user[:password]@host[:port]/database[?parameters]
              (or postgresql://). Parameters: sslmode, sslrootcert, connect_timeout
              (seconds, default 5), application_name, schema, table_prefix.
              Messages show the URL without its password.

            Exit statuses:
              0    success
              1    show or forget of a circuit that the database does not have
              64   usage error (bad option, duration or circuit name; no database given)
              74   the database cannot be used (cannot open, not a database, busy, ...;
                   a server unreachable within connect_timeout, unknown database or role)
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
