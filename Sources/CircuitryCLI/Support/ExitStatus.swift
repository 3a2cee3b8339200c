import ArgumentParser

/// The exit statuses of `circuitry`, from `sysexits.h` where one fits. `circuitry run` otherwise exits with the
/// command's own status (128 + N for a command killed by signal N, as a shell reports it).
///
/// `Docs/cli.md` and `circuitry --help` list the same statuses; a test checks that they agree with these.
enum ExitStatus {
    // Success is 0, as everywhere; `run` exits with the command's own status.

    /// EX_USAGE: bad arguments, an unknown subcommand, a bad duration, an empty or invalid circuit name, a setting
    /// out of range, no database given. The message is one line that names the option, followed by the usage.
    static let usage: Int32 = 64
    /// EX_NOINPUT: `show`, `trip`, `close`, `reset` or `forget` of a circuit that the database does not have (and,
    /// for `trip`, `close` and `reset`, no `--create`). Nothing was written. One line says so, with the names of
    /// the circuits that are close to it ("did you mean …?").
    static let noSuchCircuit: Int32 = 66
    /// EX_IOERR: the database cannot be used (it does not exist for a subcommand other than `run` and `init`;
    /// cannot open, a directory, not a database, another application's database, a newer schema, damaged,
    /// read-only, busy past the bound). One line names the path (or the URL without its password) and the cause.
    ///
    /// For `run`, this happens before the command is started, which it then is not: when the database cannot be
    /// opened or read, or when the admission must write (the circuit is half-open, or time alone has changed it: its
    /// open period or a probe's lease ended, its reset interval elapsed) and the write lock stays busy past the
    /// bound. A failure after the command has run (recording its outcome) does not change the exit status, which is
    /// the command's; a warning line says that the outcome was not recorded.
    static let storage: Int32 = 74
    /// EX_TEMPFAIL: the circuit rejected the call; the command was not started. Standard error says until when.
    static let rejected: Int32 = 75
    /// `run --timeout`: the command ran too long and was killed (as GNU `timeout` reports it).
    static let timedOut: Int32 = 124
    /// `run`: the command was found but could not be executed (as a shell reports it).
    static let cannotExecute: Int32 = 126
    /// `run`: the command was not found (as a shell reports it).
    static let commandNotFound: Int32 = 127

    /// The status a shell reports for a command killed by `signal`.
    static func killed(by signal: Int32) -> Int32 { 128 + signal }

    /// The statuses as `circuitry --help` lists them (and `Docs/cli.md`, in a table).
    static let summary = """
        Exit statuses:
          0    success; run: the command exited with 0
          64   usage error (unknown subcommand or option, bad value,
               duration or circuit name, no database); the message names
               the option
          66   show, trip, close, reset, forget: no such circuit; nothing
               is written, close names are suggested (trip, close and
               reset take --create)
          74   the database cannot be used: it does not exist (only run
               and init create one), cannot be opened, is not Circuitry's,
               is damaged, read-only or busy past the bound; a server
               cannot be reached. run: the command was not started
          75   run: the circuit rejected the call; the command was not
               started
          124  run: --timeout killed the command
          126  run: the command could not be executed
          127  run: the command was not found
          else run: the command's own status (128 + N for signal N),
               also when its outcome could not be recorded after it ran
               (a warning on standard error says so)
        """
}

extension ExitCode {
    /// An `ExitCode` for one of the ``ExitStatus`` values.
    init(status: Int32) { self.init(rawValue: status) }
}
