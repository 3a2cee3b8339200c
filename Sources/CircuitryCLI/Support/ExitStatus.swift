import ArgumentParser

/// The exit statuses of `circuitry`, from `sysexits.h` where one fits. `circuitry run` otherwise exits with the
/// command's own status (128 + N for a command killed by signal N, as a shell reports it).
enum ExitStatus {
    // Success is 0, as everywhere; `run` exits with the command's own status.
    /// `show` or `forget` of a circuit that the database does not have.
    static let notFound: Int32 = 1
    /// EX_USAGE: bad arguments, a bad duration, an empty or invalid circuit name, a setting out of range, no
    /// database given. The message is one line, followed by the usage.
    static let usage: Int32 = 64
    /// EX_IOERR: the database cannot be used (cannot open, a directory, not a database, another application's
    /// database, a newer schema, damaged, read-only, busy past the bound). One line names the path and the cause.
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
}

extension ExitCode {
    /// An `ExitCode` for one of the ``ExitStatus`` values.
    init(status: Int32) { self.init(rawValue: status) }
}
