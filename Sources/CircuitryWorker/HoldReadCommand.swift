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
        var handle: OpaquePointer?
        guard sqlite3_open_v2(db, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let handle else {
            try emit(Holding(holding: false, pid: getpid(), step: "open", message: "cannot open \(db)"))
            throw ExitCode(2)
        }
        sqlite3_busy_timeout(handle, 5000)
        // A read transaction starts at its first read and lasts until COMMIT, as in the `sqlite3` shell.
        for (step, sql) in [("begin", "BEGIN"), ("read", "SELECT count(*), sum(failures) FROM circuits")] {
            guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
                let message = String(cString: sqlite3_errmsg(handle))
                try emit(Holding(holding: false, pid: getpid(), step: step, message: message))
                throw ExitCode(2)
            }
        }
        try emit(Holding(holding: true, pid: getpid(), step: "reading"))
        guard let holdMs else {
            while true { pause() }
        }
        usleep(useconds_t(max(0, holdMs)) * 1000)
        let committed = sqlite3_exec(handle, "COMMIT", nil, nil, nil) == SQLITE_OK
        sqlite3_close(handle)
        try emit(Holding(holding: false, pid: getpid(), step: committed ? "released" : "commit failed"))
    }
}
