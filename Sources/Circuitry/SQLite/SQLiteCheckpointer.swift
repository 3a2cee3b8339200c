internal import CircuitrySQLite

/// Keeps a store connection's write-ahead log short without ever waiting for a reader: it replaces SQLite's
/// automatic checkpoint with one that runs once per 1,000 frames across all processes, and tries to empty a log
/// that grew past its bound.
///
/// Why not SQLite's automatic checkpoint (`wal_autocheckpoint`): after every commit that leaves 1,000 frames or
/// more in the log, it runs a `PASSIVE` checkpoint, which copies the frames no reader still needs into the database
/// and syncs the log and the database (two `fsync`s, in the committing call). The log starts again from its
/// beginning only when a writer finds it entirely copied with no reader in it. While processes write without
/// pause, new frames arrive during every checkpoint's `fsync`, so that never happens: the log grows (by about
/// 100 MiB a second with 4 writing processes on 2 cores) and every commit pays a checkpoint; the checkpoint lock is
/// then held nearly all the time, so that nothing else can empty the log either. Measured with 4 processes, 10 %
/// of calls failing: the slowest calls were those commits, 30–75 ms each under load.
///
/// A reader that keeps a transaction open (an operator's `sqlite3` session with `BEGIN; SELECT …`, a backup, a
/// slow report) pins every frame written after its snapshot: no checkpoint may copy them or start the log again
/// until it ends, so the log grows for as long as it stays. That costs disk, not time: commits append as usual,
/// and a passive checkpoint finds nothing it may copy.
///
/// So, after a commit whose frames cross a multiple of ``passiveEvery`` (one commit of one process per 1,000
/// frames, not every commit of every process):
/// - a `PASSIVE` checkpoint while the log is within its bound (``truncateAboveFrames``);
/// - past the bound, a `TRUNCATE` checkpoint instead, also after any other commit once ``truncateInterval`` has
///   passed since this connection's last attempt (a slow writer still empties the log soon after a reader ends).
///
/// The `TRUNCATE` checkpoint never waits: the connection has no busy handler. It fails at once when another
/// connection is checkpointing (then it did nothing, and counts as no attempt), does only a passive checkpoint when
/// another holds the write lock, and gives up as soon as it finds a reader in the log. So it never holds the write
/// lock while a reader keeps it waiting (a waiting `RESTART` checkpoint slept up to the busy bound there, holding
/// the lock, on every commit once the log was large); it holds it only to copy the frames the last passive
/// checkpoint left (two `fsync`s) and to truncate the file. With a reader pinning the log, an attempt finds nothing
/// it may copy and costs microseconds. Once the reader ends, the next attempt of any process empties the log.
///
/// > TRUNCATE: This mode works the same way as RESTART with the addition that it also truncates the log file to
/// > zero bytes just prior to a successful return.
/// > RESTART: This mode works the same way as FULL with the addition that after checkpointing the log file it
/// > blocks (calls the busy-handler callback) until all readers are finished with the log file.
/// https://www.sqlite.org/c3ref/wal_checkpoint_v2.html, https://www.sqlite.org/wal.html#ckpt
///
/// A commit is durable before any of this runs, so a checkpoint that fails is left for later, not reported.
final class SQLiteCheckpointer {
    /// One passive checkpoint per this many frames, as SQLite's automatic checkpoint starts at.
    static let passiveEvery: Int32 = 1000
    /// The least time between two `TRUNCATE` attempts of one connection (monotonic nanoseconds).
    static let truncateInterval: UInt64 = 1_000_000_000

    private let handle: OpaquePointer
    /// Above this many frames in the log, a commit may be followed by a `TRUNCATE` attempt.
    let truncateAboveFrames: Int32
    /// Frames in the log after the last commit, as the WAL hook reported them; 0 when no commit since. The hook runs
    /// after a commit that wrote frames to the log, and only then.
    var framesAfterCommit: Int32 = 0
    /// No `TRUNCATE` attempt before this instant (monotonic nanoseconds).
    private var nextTruncateAttempt: UInt64 = 0

    /// Takes over the checkpoints of the connection `handle` (which must have no busy handler), with a log bound
    /// of `truncateAboveBytes`.
    init(handle: OpaquePointer, truncateAboveBytes: Int64, pageSize: Int64) {
        self.handle = handle
        // Each frame is a page and a 24-byte header. https://www.sqlite.org/fileformat.html#wal_file_format
        truncateAboveFrames = Int32(clamping: truncateAboveBytes / (pageSize + 24))
        // > Registering a callback using sqlite3_wal_hook() disables the automatic checkpoint mechanism configured
        // > by this function [sqlite3_wal_autocheckpoint].
        sqlite3_wal_hook(handle, walHook, Unmanaged.passUnretained(self).toOpaque())
        // Start counting the pages this connection writes to the log from here.
        var current: Int32 = 0
        var highwater: Int32 = 0
        sqlite3_db_status(handle, SQLITE_DBSTATUS_CACHE_WRITE, &current, &highwater, 1)
    }

    /// Called after each commit of the connection.
    func afterCommit() {
        let frames = framesAfterCommit
        framesAfterCommit = 0
        guard frames > 0 else { return }
        // The frames this commit appended: the pages this connection wrote to the log since the last commit.
        var written: Int32 = 0
        var highwater: Int32 = 0
        sqlite3_db_status(handle, SQLITE_DBSTATUS_CACHE_WRITE, &written, &highwater, 1)
        // Whether this commit's frames crossed a multiple of `passiveEvery`: true for one commit of one process.
        let crossed = frames / Self.passiveEvery > max(0, frames - written) / Self.passiveEvery
        if frames > truncateAboveFrames {
            let now = monotonicNanoseconds()
            if crossed || now >= nextTruncateAttempt {
                var log: Int32 = 0
                var copied: Int32 = 0
                _ = sqlite3_wal_checkpoint_v2(handle, "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &copied)
                // -1: another connection held the checkpoint lock, and nothing was done.
                if log != -1 { nextTruncateAttempt = now + Self.truncateInterval }
                return
            }
        }
        if crossed {
            _ = sqlite3_wal_checkpoint_v2(handle, "main", SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        }
    }
}

/// > The callback is invoked by SQLite after the commit has taken place and the associated write-lock on the
/// > database released [...] The fourth parameter is the number of pages currently in the write-ahead log file,
/// > including those that were just committed. The callback function should normally return SQLITE_OK.
private func walHook(
    _ context: UnsafeMutableRawPointer?, _ db: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ frames: Int32
) -> Int32 {
    guard let context else { return SQLITE_OK }
    Unmanaged<SQLiteCheckpointer>.fromOpaque(context).takeUnretainedValue().framesAfterCommit = frames
    return SQLITE_OK
}
