internal import CircuitrySQLite
import Synchronization

/// The header of a WAL database's wal-index, read where SQLite itself reads it: how a connection learns, without a
/// lock or a system call, whether any connection of any process has committed since it last looked.
///
/// In WAL mode every commit of every connection ends by writing a new wal-index header into the shared memory that
/// all connections to the database map (the `-shm` file): a counter incremented by each transaction (`iChange`), the
/// last valid frame of the log, the database size and a checksum of the last frame. Readers learn of commits only
/// from it: a read transaction begins by reading this header, and "if and only if the read is consistent and the
/// header is different" from the one the connection saw last, SQLite throws away its page cache; otherwise it keeps
/// the pages it read before, because nothing can have changed (`walIndexTryHdr` in `wal.c`). ``SQLiteReadCache``
/// applies the same rule one level up, to decoded records.
///
/// The header is two copies of 48 bytes; a writer writes the second, then a memory barrier, then the first, and a
/// reader reads the first, a barrier, then the second: copies that differ are a write in progress. Checkpoints do not
/// change the database's content; one that starts the log again (`RESTART`, `TRUNCATE`) changes the header's salts and
/// frame count, which only makes a reader look again. https://www.sqlite.org/walformat.html#the_wal_index_file_format
///
/// The memory is SQLite's own mapping of the connection's wal-index, obtained through the VFS method that SQLite's
/// WAL code uses (`xShmMap`, region 0); no second descriptor of the `-shm` file is opened, so none of the connection's
/// POSIX locks on it can be released by closing one. SQLite maps the region when the connection first reads in WAL
/// mode and unmaps it only when it closes the log: when the connection closes, or leaves WAL mode, which no other
/// connection can make it do while it is open (leaving WAL mode needs an exclusive lock on the database file, and a
/// WAL connection holds a shared one for as long as it is open: `PRAGMA journal_mode=DELETE` from another process
/// fails with SQLITE_BUSY).
///
/// `@unchecked Sendable`: a pointer into shared memory that is only read, by the connection's owner under its lock.
struct SQLiteWALIndex: @unchecked Sendable {
    /// One copy of the wal-index header (SQLite's `WalIndexHdr`, 48 bytes), as 6 words compared as they are.
    struct Header: Equatable, Sendable {
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

        /// `iChange`: the counter incremented by every committed transaction (bytes 8–11, native byte order).
        var changeCounter: UInt32 { withUnsafeBytes(of: words) { $0.load(fromByteOffset: 8, as: UInt32.self) } }
        /// `mxFrame`: the last frame of the log that a commit made valid (bytes 16–19, native byte order).
        var lastFrame: UInt32 { withUnsafeBytes(of: words) { $0.load(fromByteOffset: 16, as: UInt32.self) } }
        /// `isInit`: 1 once a header was written (byte 12).
        var isInitialized: Bool { withUnsafeBytes(of: words) { $0[12] != 0 } }

        static func == (lhs: Header, rhs: Header) -> Bool {
            lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2
                && lhs.words.3 == rhs.words.3 && lhs.words.4 == rhs.words.4 && lhs.words.5 == rhs.words.5
        }
    }

    private let base: UnsafeRawPointer

    /// The wal-index of the main database of connection `handle`, or `nil` when SQLite does not keep it in memory
    /// this process can read (a VFS without shared memory, or no wal-index mapped yet).
    init?(connection handle: OpaquePointer) {
        var file: UnsafeMutablePointer<sqlite3_file>?
        // > The SQLITE_FCNTL_FILE_POINTER opcode is used to obtain a pointer to the sqlite3_file object associated
        // > with a particular database connection. https://www.sqlite.org/c3ref/c_fcntl_begin_atomic_write.html
        guard sqlite3_file_control(handle, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK,
            let methods = file?.pointee.pMethods, methods.pointee.iVersion >= 2, let map = methods.pointee.xShmMap
        else { return nil }
        // Region 0 of 32 KiB, as the WAL code maps it (`WALINDEX_PGSZ`), without extending the file: SQLite hands back
        // the mapping it already has.
        var region: UnsafeMutableRawPointer?
        guard map(file, 0, 32768, 0, &region) == SQLITE_OK, let region else { return nil }
        base = UnsafeRawPointer(region)
        guard header() != nil else { return nil }
    }

    /// The header as committed now, or `nil` while a writer is writing it (the two copies differ) or before it was
    /// ever written.
    func header() -> Header? {
        let first = load(at: 0)
        // SQLite's `walShmBarrier` between the two copies, for the same reason: read the first copy before the second.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let second = load(at: 48)
        guard first == second, first.isInitialized else { return nil }
        return first
    }

    private func load(at offset: Int) -> Header {
        Header(
            words: (
                base.load(fromByteOffset: offset, as: UInt64.self),
                base.load(fromByteOffset: offset + 8, as: UInt64.self),
                base.load(fromByteOffset: offset + 16, as: UInt64.self),
                base.load(fromByteOffset: offset + 24, as: UInt64.self),
                base.load(fromByteOffset: offset + 32, as: UInt64.self),
                base.load(fromByteOffset: offset + 40, as: UInt64.self)
            ))
    }
}
