import ArgumentParser
internal import CircuitrySQLite
import CircuitryWorkerReport
import Foundation

/// Opens the database with raw SQLite, takes the write lock with `BEGIN IMMEDIATE`, writes part of a change (a
/// circuit's row, a history row, and enough other pages that some of them spill into the WAL uncommitted),
/// reports, and blocks forever: the test SIGKILLs it inside the transaction. With `--hold-ms`, it rolls back after
/// that long instead, reports again and exits.
struct HoldWriteLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold-write-lock",
        abstract: "Take the write lock, write part of a change, report, then block until killed.")

    @Option(help: "The SQLite database file (must already hold Circuitry's schema).")
    var db: String

    @Option(help: "The circuit whose row the partial change overwrites.")
    var circuit: String = "upstream"

    @Option(help: "Names this process (for symmetry with the other subcommands; not written anywhere).")
    var name: String?

    @Option(help: "Pages of filler written inside the transaction (some spill into the WAL).")
    var fillerPages: Int = 200

    @Option(help: "Roll back and exit after holding the lock this many milliseconds (default: until killed).")
    var holdMs: Int?

    @OptionGroup var barrier: BarrierOptions

    func run() async throws {
        try barrier.arriveAndWait()
        let connection = try RawHold(db, flags: SQLITE_OPEN_READWRITE)
        let name = circuit.replacingOccurrences(of: "'", with: "''")
        let steps: [(String, String)] = [
            // A tiny page cache makes SQLite spill dirty pages into the WAL before the commit.
            ("cache", "PRAGMA cache_size = 8"),
            ("begin", "BEGIN IMMEDIATE"),
            (
                "circuit",
                "UPDATE circuits SET state = 'open', failures = 999999, consecutive_failures = 999999 WHERE name = '\(name)'"
            ),
            (
                "history",
                """
                INSERT INTO transitions (circuit, at, from_state, to_state, generation, reason, actor)
                VALUES ('\(name)', 0, 'closed', 'open', 999999, 'partial write', 'killed writer')
                """
            ),
            ("filler", "CREATE TABLE partial_filler (blob BLOB)"),
            (
                "spill",
                """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(max(1, fillerPages)))
                INSERT INTO partial_filler SELECT randomblob(4000) FROM n
                """
            ),
        ]
        try connection.take(steps, holding: "holding")
        // Blocks inside the open transaction until SIGKILLed, or rolls back after --hold-ms.
        try connection.hold(milliseconds: holdMs, thenRun: "ROLLBACK")
    }
}
