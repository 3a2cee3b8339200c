#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Circuit records a connection read or wrote, kept for as long as no connection of any process has committed since.
///
/// A plain read of a circuit is a read transaction: in WAL mode SQLite takes and releases a lock on the `-shm` file
/// (two `fcntl` calls) and steps a prepared statement, and the store decodes the row; a healthy call reads its circuit
/// twice (to admit, then to check before batching its success), and a failing call reads it to admit and again in its
/// write transaction. Yet a record can only change by a commit, and every commit of every process changes the
/// wal-index header (``SQLiteWALIndex``). So the cache keeps the records it saw together with the header they were
/// read under, and answers a read from memory while the header is still that header: the answer is then the record
/// as last committed, exactly what the `SELECT` would return at that instant. This is the rule by which SQLite itself
/// keeps its page cache from one transaction to the next.
///
/// - A read takes the header **before** its `SELECT`: a commit between the two makes the cached record newer than
///   its header, never older, and the next read, finding another header, reads again.
/// - Inside a write transaction the header cannot change (this connection holds the write lock), so a hit there is
///   the record the transaction's `SELECT` would see.
/// - A write transaction of this connection leaves the record it wrote in the cache when it can tell that no other
///   commit came after its own (``SQLiteConnection/OwnCommit``): then the next admission needs no `SELECT` either.
///   The other records stay when the header before the write was the cache's: the write changed only its circuit.
/// - When the header cannot be read (a writer is writing it, or the connection has no wal-index in memory), every read
///   is a `SELECT`, as without the cache.
/// - Names are compared byte for byte, as SQL's `=` compares them: Swift's `==` would take two Unicode forms of one
///   name, which a direct user of the store may keep as two circuits, for one.
///
/// At most ``capacity`` records are kept; the cache is emptied when it is full and whenever the header changes.
/// Used only under the store's lock, with the connection it belongs to.
final class SQLiteReadCache {
    /// The most records kept at once.
    static let capacity = 1024

    /// A record as last committed under ``header``, for the name spelled exactly as ``name``.
    private struct Entry {
        var name: String
        /// `nil`: the circuit has no record.
        var record: CircuitRecord?
    }

    /// The header every cached record was read or written under.
    private var header: SQLiteWALIndex.Header?
    private var entries: [String: Entry] = [:]
    /// The entry kept or answered last, when it is still in ``entries``.
    private var last: Entry?

    /// The record of `name` as last committed, given the wal-index header `current` read just now: from the cache
    /// when `current` is the header it was read under, otherwise from `select` (then kept).
    func record(
        _ name: String, current: SQLiteWALIndex.Header?, select: () throws -> CircuitRecord?
    ) rethrows -> CircuitRecord? {
        guard let current else { return try select() }
        if current == header {
            // Most calls ask for the circuit asked for last: no hashing then.
            if let last, Self.sameBytes(last.name, name) { return last.record }
            if let cached = entries[name], Self.sameBytes(cached.name, name) {
                last = cached
                return cached.record
            }
        } else {
            entries.removeAll(keepingCapacity: true)
            last = nil
            header = current
        }
        let record = try select()
        keep(name, record)
        return record
    }

    /// After this connection's write transaction on `name` committed, leaving `record`: keeps it when `commit` shows
    /// that no other commit came after it; otherwise forgets everything.
    func wrote(_ name: String, _ record: CircuitRecord?, commit: SQLiteConnection.OwnCommit?) {
        guard let commit else { return forget() }
        if header != commit.before {
            entries.removeAll(keepingCapacity: true)
            last = nil
        }
        header = commit.after
        keep(name, record)
    }

    /// Empties the cache: the next read of every circuit is a `SELECT`.
    func forget() {
        entries.removeAll(keepingCapacity: true)
        last = nil
        header = nil
    }

    private func keep(_ name: String, _ record: CircuitRecord?) {
        if entries.count >= Self.capacity, entries[name] == nil { entries.removeAll(keepingCapacity: true) }
        let entry = Entry(name: name, record: record)
        entries[name] = entry
        last = entry
    }

    /// Whether `a` and `b` are the same UTF-8 bytes (Swift's `==` compares canonical equivalence).
    private static func sameBytes(_ a: String, _ b: String) -> Bool {
        let compared = a.utf8.withContiguousStorageIfAvailable { a in
            b.utf8.withContiguousStorageIfAvailable { b in
                a.count == b.count && (a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
            }
        }
        return (compared ?? nil) ?? a.utf8.elementsEqual(b.utf8)
    }
}
