import ArgumentParser
internal import CircuitrySQLite
import CircuitryWorkerReport
import Foundation

/// Opens the database with raw SQLite and keeps a read transaction open (`BEGIN; SELECT …`), as an operator's
/// `sqlite3` session, a backup or a slow report would: its snapshot pins the write-ahead log. Reports, holds for
/// `--hold-ms` (or until killed), commits, reports again and exits.
struct HoldReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold-read",
        abstract: "Keep a read transaction open on the database, report, and end it after a while or when killed.")

    @Option(help: "The SQLite database file (must already hold Circuitry's schema).")
    var db: String

    @Option(help: "Names this process (for symmetry with the other subcommands; not written anywhere).")
    var name: String?

    @Option(help: "End the read transaction and exit after this many milliseconds (default: until killed).")
    var holdMs: Int?

    func run() async throws {
        let connection = try RawHold(db, flags: SQLITE_OPEN_READONLY)
        // A read transaction starts at its first read and lasts until COMMIT, as in the `sqlite3` shell.
        try connection.take(
            [("begin", "BEGIN"), ("read", "SELECT count(*), sum(failures) FROM circuits")], holding: "reading")
        try connection.hold(milliseconds: holdMs, thenRun: "COMMIT")
    }
}
