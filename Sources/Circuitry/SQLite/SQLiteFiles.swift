#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which file a path names: its device and inode.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64

    /// The file at `path` now, or `nil` if there is none (or it cannot be looked at).
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// The three files of a WAL database, as one connection opened them, and whether the paths still name them.
///
/// A process that opened the database keeps using the files it opened, whatever happens to their names: if an
/// operator deletes `breakers.sqlite*` or renames another file over it, the process would go on reading and writing
/// a file nobody else can open, while new processes create a fresh one at the path. The store compares the path's
/// device and inode with the ones it opened (one `stat`, about a microsecond) before every write and at most once a
/// second before a read.
///
/// The WAL and its index (`-wal`, `-shm`) belong to the database by name only. While the old database's `-wal` or
/// `-shm` is still at its path, a connection opened on a new file there would take the old log for its own and
/// read pages of the old database as pages of the new one. https://www.sqlite.org/howtocorrupt.html ("Unlinking or
/// renaming a database file while in use")
struct SQLiteFiles: Sendable {
    /// The database's absolute path (as SQLite resolved it when opening).
    let path: String
    let database: FileIdentity
    let wal: FileIdentity?
    let sharedMemory: FileIdentity?

    var walPath: String { path + "-wal" }
    var sharedMemoryPath: String { path + "-shm" }

    /// What the paths hold now, compared with what was opened.
    enum Status: Equatable, Sendable {
        /// The path still names the opened database file.
        case unchanged
        /// The database file was deleted or replaced, and neither the old `-wal` nor the old `-shm` is left at its
        /// path: a new file can be opened there.
        case replaced
        /// The database file was deleted or replaced, but the old `-wal` or `-shm` is still at its path.
        case replacedButOldLogRemains
    }

    /// Looks at the files the paths name now.
    var status: Status {
        guard FileIdentity(path: path) != database else { return .unchanged }
        let oldLogRemains =
            (wal != nil && FileIdentity(path: walPath) == wal)
            || (sharedMemory != nil && FileIdentity(path: sharedMemoryPath) == sharedMemory)
        return oldLogRemains ? .replacedButOldLogRemains : .replaced
    }
}
