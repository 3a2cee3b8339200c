import ArgumentParser
internal import CircuitrySQLite
import CircuitryWorkerReport
import Foundation

/// A raw SQLite connection with which a test helper takes a lock (a write transaction, a read transaction) and
/// holds it: every step is reported, and the process exits with status 2 at the first that fails.
struct RawHold {
    let handle: OpaquePointer

    /// Opens `db` with `flags`, waiting up to 5 s for other processes' locks.
    init(_ db: String, flags: Int32) throws {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(db, &handle, flags, nil) == SQLITE_OK, let handle else {
            try emit(Holding(holding: false, pid: getpid(), step: "open", message: "cannot open \(db)"))
            throw ExitCode(2)
        }
        sqlite3_busy_timeout(handle, 5000)
        self.handle = handle
    }

    /// Runs each `(step, sql)` with `sqlite3_exec`, then reports that the lock is held as `holding`.
    func take(_ steps: [(String, String)], holding: String) throws {
        for (step, sql) in steps {
            guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
                let message = String(cString: sqlite3_errmsg(handle))
                try emit(Holding(holding: false, pid: getpid(), step: step, message: message))
                throw ExitCode(2)
            }
        }
        try emit(Holding(holding: true, pid: getpid(), step: holding))
    }

    /// Blocks until killed, or, with `milliseconds`, holds that long, ends the transaction with `end` (`COMMIT`,
    /// `ROLLBACK`), closes the connection and reports `released`.
    func hold(milliseconds: Int?, thenRun end: String) throws {
        guard let milliseconds else {
            while true { pause() }
        }
        // A plain sleep: this process has nothing else to do, and the lock must stay held for exactly this long.
        usleep(useconds_t(max(0, milliseconds)) * 1000)
        let ended = sqlite3_exec(handle, end, nil, nil, nil) == SQLITE_OK
        sqlite3_close(handle)
        try emit(Holding(holding: false, pid: getpid(), step: ended ? "released" : "\(end) failed"))
    }
}
