import Foundation
import Testing

@testable import Circuitry

/// A reader left open neither slows writes nor keeps the write-ahead log large once it ends.
@Suite struct SQLiteCheckpointTests {
    /// A connection with a read transaction open, as an operator's `sqlite3` session after `BEGIN; SELECT …`.
    final class Reader {
        let connection: SQLiteConnection
        init(_ path: String) throws {
            connection = try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(1)))
            try connection.execute("BEGIN")
            _ = try connection.scalarText("SELECT count(*) FROM circuits")
        }
        func end() throws {
            try connection.execute("COMMIT")
            connection.close()
        }
    }

    @Test func aLongReaderNeitherSlowsWritesNorKeepsTheLogLarge() async throws {
        try await onItsOwnThread {
            let folder = try TemporaryFolder()
            let path = folder.path("reader.sqlite")
            // journal_size_limit 0: the log is bounded at 8 MiB (twice the automatic checkpoint's 4 MiB).
            let bound: Int64 = 8 << 20
            let store = try SQLiteCircuitStore(
                path: path, configuration: .init(busyTimeout: .milliseconds(200), journalSizeLimit: 0))
            defer { store.close() }
            try await store.addFailure("x")
            let reader = try Reader(path)

            // Each failure is a commit of one page: past the bound, while the reader pins the log.
            var writes = 0
            while fileSize(path + "-wal") <= bound + (1 << 20) {
                try #require(writes < 20_000, "the log did not grow past the bound")
                try await store.addFailure("x")
                writes += 1
            }
            var durations: [Double] = []
            for _ in 0..<500 {
                let started = ContinuousClock.now
                try await store.addFailure("x")
                durations.append(milliseconds(since: started))
                writes += 1
            }
            durations.sort()
            // Checkpoints never waited for the reader: one that did took the busy bound (200 ms) on every commit past
            // the bound. A write may still be slow now and then on a loaded machine (a disk flush, preemption).
            let p90 = durations[durations.count * 9 / 10]
            #expect(p90 < 20, "writes past the bound: p90 \(p90) ms, slowest \(durations.last ?? 0) ms")
            #expect(durations.reduce(0, +) < 5000, "500 writes past the bound took \(durations.reduce(0, +)) ms")
            #expect(fileSize(path + "-wal") > bound, "the reader pins the log")

            try reader.end()
            let ended = ContinuousClock.now
            while fileSize(path + "-wal") > bound {
                try #require(milliseconds(since: ended) < 5000, "the log stayed at \(fileSize(path + "-wal")) bytes")
                try await store.addFailure("x")
                writes += 1
                try await Task.sleep(for: .milliseconds(1))
            }
            #expect(milliseconds(since: ended) < 3000)
            #expect(try await store.read("x").record?.counts.failures == Int64(writes + 1), "no outcome lost")
        }
    }
}
