import Foundation
import Testing

@testable import Circuitry

/// The SQLite store answers reads from records it kept while the wal-index header shows no commit since
/// (``SQLiteReadCache``): every read must still return the record as last committed, whoever committed it.
@Suite struct SQLiteReadCacheTests {
    /// Writes `requests` into the record of `name` through `store`, creating it if missing.
    private func write(_ requests: Int64, _ name: String, through store: SQLiteCircuitStore) async throws {
        try await store.update(name) { record, now in
            var changed = record ?? CircuitRecord(name: name, createdAt: now)
            changed.counts.requests = requests
            record = changed
            return StoreUpdate(value: (), write: true)
        }
    }

    private func requests(_ name: String, in store: SQLiteCircuitStore) async throws -> Int64? {
        try await store.read(name).record?.counts.requests
    }

    /// Two stores on one file in `folder`, and an operator's connection to it that writes as no store does.
    private static func shared(
        _ folder: TemporaryFolder
    ) throws -> (SQLiteCircuitStore, SQLiteCircuitStore, SQLiteConnection) {
        let path = folder.path("shared.sqlite")
        return (
            try SQLiteCircuitStore(path: path), try SQLiteCircuitStore(path: path),
            try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(5)))
        )
    }

    private static func close(_ first: SQLiteCircuitStore, _ second: SQLiteCircuitStore, _ raw: SQLiteConnection) {
        first.close()
        second.close()
        raw.close()
    }

    @Test func everyReadSeesTheLastCommitOfAnyConnection() async throws {
        let folder = try TemporaryFolder()
        let (first, second, raw) = try Self.shared(folder)
        defer { Self.close(first, second, raw) }

        #expect(try await requests("x", in: first) == nil)
        for round in Int64(1)...50 {
            // Another connection's commit after this one's read.
            try await write(round * 10, "x", through: second)
            #expect(try await requests("x", in: first) == round * 10)
            // This connection's own commit, then another's: the record it kept after its write is stale.
            try await write(round * 10 + 1, "x", through: first)
            #expect(try await requests("x", in: first) == round * 10 + 1)
            try await write(round * 10 + 2, "x", through: second)
            #expect(try await requests("x", in: first) == round * 10 + 2)
            #expect(
                try await first.update("x") { record, _ in StoreUpdate(value: record?.counts.requests, write: false) }
                    == round * 10 + 2)
            // A write outside any store.
            try raw.execute("UPDATE circuits SET requests = \(round * 10 + 3) WHERE name = 'x'")
            #expect(try await requests("x", in: first) == round * 10 + 3)
            #expect(try await requests("x", in: second) == round * 10 + 3)
            // A circuit deleted underneath.
            if round % 10 == 0 {
                try raw.execute("DELETE FROM circuits WHERE name = 'x'")
                #expect(try await requests("x", in: first) == nil)
                #expect(try await requests("x", in: second) == nil)
            }
        }
    }

    @Test func checkpointsThatStartTheLogAgainChangeNothingRead() async throws {
        let folder = try TemporaryFolder()
        let (first, second, raw) = try Self.shared(folder)
        defer { Self.close(first, second, raw) }
        for round in Int64(1)...20 {
            try await write(round, "x", through: first)
            #expect(try await requests("x", in: first) == round)
            // The log starts again from its first frame: a commit after it may end on the frame number and with the
            // change counter a header before it had.
            _ = try raw.scalarText("PRAGMA wal_checkpoint(TRUNCATE)")
            try await write(round + 100, "x", through: second)
            #expect(try await requests("x", in: first) == round + 100)
            _ = try raw.scalarText("PRAGMA wal_checkpoint(TRUNCATE)")
            #expect(try await requests("x", in: first) == round + 100)
        }
    }

    @Test func namesAreComparedByteForByteAsSQLiteComparesThem() async throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteCircuitStore(path: folder.path("names.sqlite"))
        defer { store.close() }
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(composed == decomposed)
        try await write(7, composed, through: store)
        #expect(try await requests(composed, in: store) == 7)
        // Swift's `==` takes them for one name; a direct user of the store keeps them as two circuits.
        #expect(try await requests(decomposed, in: store) == nil)
        try await write(8, decomposed, through: store)
        #expect(try await requests(decomposed, in: store) == 8)
        #expect(try await requests(composed, in: store) == 7)
    }

    /// The cache itself, on a real connection's wal-index: it answers without the `SELECT` until any connection
    /// commits.
    @Test func answersWithoutASelectUntilAnyConnectionCommits() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("cache.sqlite")
        let store = try SQLiteCircuitStore(path: path)
        try await write(1, "x", through: store)
        store.close()

        let connection = try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(5)))
        defer { connection.close() }
        connection.stopWaitingWhenBusy()
        try connection.takeOverCheckpoints(truncateAboveBytes: 1 << 30)
        let walIndex = try #require(connection.walIndex)
        let other = try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(5)))
        defer { other.close() }

        let cache = SQLiteReadCache()
        var selects = 0
        let record = CircuitRecord(name: "x", createdAt: Timestamp(millisecondsSince1970: 0))
        func read(_ name: String) -> CircuitRecord? {
            cache.record(name, current: walIndex.header()) {
                selects += 1
                return record
            }
        }
        _ = read("x")
        _ = read("x")
        _ = read("x")
        #expect(selects == 1)
        _ = read("cafe\u{301}")
        _ = read("caf\u{E9}")
        #expect(selects == 3)
        try other.execute("UPDATE circuits SET requests = 2 WHERE name = 'x'")
        _ = read("x")
        _ = read("x")
        #expect(selects == 4)
        // An UPDATE to the value the row already holds commits nothing to the log, and leaves the header as it was:
        // what was kept is still what is committed.
        try other.execute("UPDATE circuits SET requests = 2 WHERE name = 'x'")
        _ = read("x")
        #expect(selects == 4)
        // This connection's own write transaction, when no other commit follows it, leaves its record kept.
        try connection.immediateTransaction {
            try connection.execute("UPDATE circuits SET requests = 3 WHERE name = 'x'")
        }
        let commit = try #require(connection.lastCommit)
        cache.wrote("x", record, commit: commit)
        _ = read("x")
        #expect(selects == 4)
        // A write transaction that writes nothing is its own last commit too: the header is as it was.
        try connection.immediateTransaction { _ = try connection.scalarInt("SELECT requests FROM circuits") }
        #expect(connection.lastCommit?.after == commit.after)
        try other.execute("UPDATE circuits SET requests = 4 WHERE name = 'x'")
        _ = read("x")
        #expect(selects == 5)
    }
}
