internal import CircuitrySQLite
import Foundation

/// The demo's job queue: a `jobs` table in its own SQLite file, shared by the producer and the worker processes.
///
/// Deliberately plain SQL: a job is claimed in one `BEGIN IMMEDIATE` transaction, and a job whose circuit is open
/// goes back to `queued` with `run_at` set to the circuit's retry-after time.
final class JobQueue {
    struct Job {
        var id: Int64
        var tenant: String
    }

    struct TenantCounts {
        var done = 0
        var failed = 0
        var deferred = 0
        var waiting = 0
    }

    private let db: OpaquePointer
    let path: String

    static let schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS jobs (
            id        INTEGER PRIMARY KEY,
            tenant    TEXT NOT NULL,
            state     TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
            run_at    INTEGER NOT NULL,
            deferrals INTEGER NOT NULL DEFAULT 0,
            worker    TEXT
        );
        CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, run_at);
        CREATE TABLE IF NOT EXISTS producer (done INTEGER NOT NULL);
        """

    init(path: String) throws {
        self.path = path
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK,
            let handle
        else {
            sqlite3_close(handle)
            throw DemoError("cannot open the job queue at \(path)")
        }
        db = handle
        // The demo's own queue waits on the built-in busy handler; the breakers' store has its own.
        sqlite3_busy_timeout(db, 5000)
        try execute("PRAGMA synchronous = NORMAL")
    }

    deinit {
        sqlite3_close_v2(db)
    }

    func createSchema() throws {
        try execute(Self.schema)
    }

    func execute(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw DemoError("\(String(cString: sqlite3_errmsg(db))) - while executing \(sql)")
        }
    }

    /// Runs `sql` with integer or text parameters and returns every row as text columns.
    @discardableResult
    func rows(_ sql: String, _ parameters: [any Sendable] = []) throws -> [[String?]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw DemoError("\(String(cString: sqlite3_errmsg(db))) - while preparing \(sql)")
        }
        defer { sqlite3_finalize(statement) }
        for (offset, parameter) in parameters.enumerated() {
            let index = Int32(offset + 1)
            switch parameter {
            case let value as Int64: sqlite3_bind_int64(statement, index, value)
            case let value as Int: sqlite3_bind_int64(statement, index, Int64(value))
            case let value as String: sqlite3_bind_text(statement, index, value, -1, circuitry_sqlite3_transient())
            default: throw DemoError("unsupported parameter \(parameter)")
            }
        }
        var result: [[String?]] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return result }
            guard rc == SQLITE_ROW else {
                throw DemoError("\(String(cString: sqlite3_errmsg(db))) - while executing \(sql)")
            }
            result.append(
                (0..<sqlite3_column_count(statement)).map { column in
                    sqlite3_column_text(statement, column).map { String(cString: $0) }
                })
        }
    }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    func enqueue(tenant: String, runAt: Int64) throws {
        try rows("INSERT INTO jobs (tenant, run_at) VALUES (?1, ?2)", [tenant, runAt])
    }

    /// Takes the job that is due first, if any.
    func claim(now: Int64, worker: String) throws -> Job? {
        try transaction {
            let due = try rows(
                "SELECT id, tenant FROM jobs WHERE state = 'queued' AND run_at <= ?1 ORDER BY run_at, id LIMIT 1", [now]
            )
            guard let row = due.first, let id = row[0].flatMap({ Int64($0) }), let tenant = row[1] else { return nil }
            try rows("UPDATE jobs SET state = 'running', worker = ?2 WHERE id = ?1", [id, worker])
            return Job(id: id, tenant: tenant)
        }
    }

    func finish(_ job: Job, succeeded: Bool) throws {
        try rows("UPDATE jobs SET state = ?2 WHERE id = ?1", [job.id, succeeded ? "done" : "failed"])
    }

    /// Puts a rejected job back, due at `runAt`.
    func requeue(_ job: Job, runAt: Int64) throws {
        try rows(
            "UPDATE jobs SET state = 'queued', run_at = ?2, deferrals = deferrals + 1 WHERE id = ?1", [job.id, runAt])
    }

    /// Whether the producer has finished and no job is waiting or running; else when the next job is due.
    func drained() throws -> (done: Bool, nextDue: Int64?) {
        let producerDone = try rows("SELECT count(*) FROM producer").first?[0] != "0"
        let open = try rows(
            "SELECT count(*), min(CASE state WHEN 'queued' THEN run_at END) FROM jobs WHERE state IN ('queued', 'running')"
        )
        let waiting = Int(open.first?[0] ?? "0") ?? 0
        return (producerDone && waiting == 0, open.first?[1].flatMap { Int64($0) })
    }

    func markProducerDone() throws {
        try rows("INSERT INTO producer (done) VALUES (1)")
    }

    func counts() throws -> [String: TenantCounts] {
        var counts: [String: TenantCounts] = [:]
        let sql = """
            SELECT tenant, sum(state = 'done'), sum(state = 'failed'), sum(deferrals), sum(state IN ('queued', 'running'))
            FROM jobs GROUP BY tenant
            """
        for row in try rows(sql) {
            guard let tenant = row[0] else { continue }
            let numbers = row.dropFirst().map { Int($0 ?? "0") ?? 0 }
            counts[tenant] = TenantCounts(
                done: numbers[0], failed: numbers[1], deferred: numbers[2], waiting: numbers[3])
        }
        return counts
    }
}

package struct DemoError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
