import CircuitryWorkerReport
import Foundation
import Testing

@testable import Circuitry

extension CrossProcessTests {
    /// The SQLite store under conditions real deployments meet, with real processes on a real file: a reader left
    /// open, another process holding the write lock, the database deleted or replaced while workers run.
    ///
    /// Nested in ``CrossProcessTests`` so that it runs serially with the other process tests: these tests measure
    /// stalls and latencies, and must not share the two cores with them.
    @Suite struct SQLiteRealConditions {
        /// The write-ahead log's bound with the default configuration: twice the 8 MiB `journal_size_limit`.
        static let walBound: Int64 = 16 << 20

        // MARK: A reader left open

        /// Four workers record failures and successes (S F F repeated, 1 ms of work each) on one circuit for
        /// `seconds`; with `reader`, another process keeps a read transaction open from the start until the log is
        /// past its bound plus `pinnedAfterBound`, then ends it while the workers go on.
        struct ReaderRun {
            var reports: [WorkerReport]
            var p99RecordMs: Double
            var largestWAL: Int64
            /// How long after the reader ended the log was back under its bound (`nil`: no reader, or it never was).
            var backUnderBoundMs: Double?
        }

        func readerRun(_ lab: Lab, _ db: String, reader: Bool, seconds: Int, pinnedAfterBound: Duration) async throws
            -> ReaderRun
        {
            try await lab.withStore(db) { _ in }  // the schema, before the reader's first read
            var holder: WorkerProcess?
            if reader {
                let process = try lab.start("reader", ["hold-read", "--db", db])
                let line = try await process.firstLine(timeout: .seconds(10))
                try #require(try JSONDecoder().decode(Holding.self, from: Data(line.utf8)).holding, "\(process)")
                holder = process
            }
            let workers = try await lab.startTogether(4, reader ? "with-reader" : "alone") { _ in
                [
                    "calls", "--db", db, "--circuit", "shared", "--calls", "10000000", "--duration-ms",
                    "\(seconds * 1000)", "--outcome", "SFF", "--failure-threshold", "1000000000", "--max-batch", "20",
                    // 1 ms of work per call, as a job would do: the workers do not take both cores from the tests
                    // running beside this one, and still write the log past its bound within a few seconds.
                    "--work-ms", "1",
                ]
            }
            let wal = db + "-wal"
            var largest: Int64 = 0
            var backUnderBound: Double?
            if let holder {
                // The reader stays until the log is past its bound (where the store used to run a checkpoint that
                // waited the whole busy bound for the reader on every commit), and a while longer.
                let started = ContinuousClock.now
                while fileSize(wal) <= Self.walBound {
                    try #require(
                        milliseconds(since: started) < Double(seconds) * 500, "the log never passed its bound")
                    try await Task.sleep(for: .milliseconds(5))
                }
                try await Task.sleep(for: pinnedAfterBound)
                largest = fileSize(wal)
                holder.kill()
                _ = await holder.wait(timeout: .seconds(5))
                let ended = ContinuousClock.now
                while workers.contains(where: \.isRunning) {
                    largest = max(largest, fileSize(wal))
                    if fileSize(wal) <= Self.walBound {
                        backUnderBound = milliseconds(since: ended)
                        break
                    }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            let reports = try await lab.reports(workers, timeout: .seconds(seconds + 30))
            let records = reports.flatMap(\.ranEvents).compactMap(\.recordMs).sorted()
            let p99 = records.isEmpty ? 0 : records[min(records.count - 1, records.count * 99 / 100)]
            return ReaderRun(
                reports: reports, p99RecordMs: p99, largestWAL: max(largest, fileSize(wal)),
                backUnderBoundMs: backUnderBound)
        }

        /// The reader here stays 1.5 s past the point where the log reaches its bound, not the 30 s of the report
        /// that found the problem: from that point every commit of the old store waited the whole busy bound (1 s),
        /// so a second and a half already shows whether writers are slowed; staying longer only grows the log.
        @Test func aReaderLeftOpenNeitherSlowsWritersNorLosesOutcomes() async throws {
            let lab = try Lab()
            defer { lab.tearDown() }
            let seconds = 7
            let alone = try await readerRun(
                lab, lab.newDatabase("alone"), reader: false, seconds: seconds, pinnedAfterBound: .zero)
            let db = lab.newDatabase("with-reader")
            let pinned = try await readerRun(lab, db, reader: true, seconds: seconds, pinnedAfterBound: .seconds(1.5))

            for run in [alone, pinned] {
                #expect(
                    run.reports.allSatisfy { $0.recordErrors == 0 && $0.flushed }, "\(run.reports.flatMap(\.errors))")
            }
            // No outcome lost: every failure and every success of the run with the reader is counted.
            let record = try await lab.record("shared", in: db)
            #expect(record.counts.failures == Int64(pinned.reports.map(\.failuresRun).reduce(0, +)))
            #expect(record.counts.successes == Int64(pinned.reports.map(\.successesRun).reduce(0, +)))
            #expect(record.counts.requests == Int64(pinned.reports.map(\.ran).reduce(0, +)))
            // Writers are not slowed by the reader: no record waited out the busy bound (1 s; a checkpoint that waited
            // for the reader made every commit past the log's bound do that), and the p99 is that of a run without.
            let slowest = pinned.reports.map(\.slowestRecordMs).max() ?? 0
            #expect(slowest < 1000, "a record took \(slowest) ms with the reader")
            #expect(
                pinned.p99RecordMs <= 2 * alone.p99RecordMs,
                "p99 per record: \(pinned.p99RecordMs) ms with the reader, \(alone.p99RecordMs) ms without")
            // The reader pinned the log past its bound; once it ended, the log was back under its bound soon.
            #expect(pinned.largestWAL > Self.walBound)
            let back = try #require(pinned.backUnderBoundMs, "the log stayed over its bound until the workers ended")
            #expect(back < 3000, "the log was back under its bound \(back) ms after the reader ended")
            print(
                "reader left open: p99 per record \(pinned.p99RecordMs) ms with the reader (slowest \(slowest) ms), "
                    + "\(alone.p99RecordMs) ms without; log up to \(pinned.largestWAL >> 20) MiB while pinned, back under "
                    + "\(Self.walBound >> 20) MiB \(Int(back)) ms after the reader ended; \(record.counts.failures) "
                    + "failures and \(record.counts.successes) successes, none lost")
        }

        // MARK: Another process holding the write lock

        @Test func waitingForALockHeldTwoSecondsStallsNothingAndEndsTogether() async throws {
            let lab = try Lab()
            defer { lab.tearDown() }
            try await lab.withStore { _ in }
            let bound = 1000.0
            // The waiter opens its store first (opening may need the lock), then waits at the barrier.
            let waiter = try await lab.readyTogether(1, "waiter") { _ in
                ["wait-for-lock", "--db", lab.database, "--busy-ms", "\(Int(bound))", "--writes", "4"]
            }
            let holder = try lab.start("holder", ["hold-write-lock", "--db", lab.database, "--hold-ms", "2000"])
            let line = try await holder.firstLine(timeout: .seconds(10))
            try #require(try JSONDecoder().decode(Holding.self, from: Data(line.utf8)).holding, "\(holder)")
            try waiter.release()

            let exit = await waiter.workers[0].wait(timeout: .seconds(30))
            try #require(exit.succeeded, "\(waiter.workers[0])")
            let output = waiter.workers[0].output.split(separator: "\n").last.map(String.init) ?? ""
            let report = try JSONDecoder().decode(LockWaitReport.self, from: Data(output.utf8))
            #expect(await holder.wait(timeout: .seconds(10)).succeeded)
            #expect(holder.output.contains("released"), "the lock was held until the writes ended: \(holder.output)")

            let slack = 500.0
            #expect(report.writes.count == 4)
            for write in report.writes {
                #expect(write.error == "busy", "\(write)")
                #expect(write.endedMs - write.startedMs >= bound, "gave up before the bound: \(write)")
                #expect(write.endedMs - write.startedMs < bound + slack, "\(write)")
            }
            // Together: each write waits for itself, not behind the others.
            let ends = report.writes.map(\.endedMs)
            #expect((ends.max() ?? 0) - (ends.min() ?? 0) < 100, "writes ended at \(ends) ms")
            // No thread of the cooperative pool slept: the heartbeat kept ticking, and reads were answered. A tick
            // may come late because the machine did not run the process (another process had the core): the same
            // worker's heartbeat on a thread of its own measures that, over the same time, and it is not the pool's.
            let heartbeat =
                "a 5 ms heartbeat came \(report.lateTickMaxMs) ms late (one on a thread of its own "
                + "\(report.threadLateTickMaxMs) ms; \(report.lateTickMaxBeforeMs) ms before the writes)"
            #expect(report.lateTickMaxMs <= 20 + report.threadLateTickMaxMs, "\(heartbeat)")
            #expect(report.reads >= 50 && report.readErrors == 0, "\(report.reads) reads, \(report.readErrors) failed")
            #expect(report.slowestReadMs < 50, "slowest read \(report.slowestReadMs) ms")
            print(
                "write lock held 2 s: 4 writes failed busy at \(ends.map { Int($0) }) ms (bound \(Int(bound)) ms); "
                    + "heartbeat at most \(report.lateTickMaxMs) ms late (on a thread of its own "
                    + "\(report.threadLateTickMaxMs) ms, before the writes \(report.lateTickMaxBeforeMs) ms); "
                    + "\(report.reads) reads answered meanwhile, slowest \(report.slowestReadMs) ms")
        }

        // MARK: The file under running workers

        enum FileChange: String, CaseIterable, CustomStringConvertible {
            case delete, replace
            var description: String { rawValue }
        }

        /// Two workers record failures; while they run, the database is deleted (`rm breakers.sqlite*`), or replaced
        /// by another Circuitry database (its `-wal` and `-shm` removed, the new file renamed over it). The change is
        /// made while this test holds the write lock, so that it knows the count in the old file at that instant;
        /// hard links keep the old file readable afterwards.
        @Test(arguments: FileChange.allCases)
        func workersMoveToTheFileAtThePath(change: FileChange) async throws {
            let lab = try Lab()
            defer { lab.tearDown() }
            let db = lab.database
            let marker: Int64 = 1000
            let replacement = lab.folder.appendingPathComponent("replacement.sqlite").path
            try await lab.withStore { _ in }
            if change == .replace {
                try await lab.withStore(replacement) { store in
                    _ = try await store.update("upstream") { record, now in
                        var seeded = CircuitRecord(name: "upstream", createdAt: now)
                        seeded.counts.failures = marker
                        record = seeded
                        return StoreUpdate(value: true, write: true)
                    }
                }
                #expect(!FileManager.default.fileExists(atPath: replacement + "-wal"), "closed, one file")
            }
            let workers = try await lab.startTogether(2, "writer") { _ in
                [
                    "calls", "--db", db, "--circuit", "upstream", "--calls", "1000000", "--duration-ms", "3000",
                    "--outcome", "fail", "--failure-threshold", "1000000000", "--work-ms", "1",
                ]
            }
            let started = ContinuousClock.now
            let recordedSoFar = { (try? lab.scalar("SELECT failures FROM circuits WHERE name = 'upstream'")) ?? nil }
            while Int(recordedSoFar() ?? "") ?? 0 < 20 {
                try #require(milliseconds(since: started) < 2000, "the workers recorded nothing")
                try await Task.sleep(for: .milliseconds(5))
            }

            let locker = try SQLiteConnection(path: db, busy: BusyPolicy(bound: .seconds(2)))
            try locker.execute("BEGIN IMMEDIATE")
            let before = try locker.scalarInt("SELECT failures FROM circuits WHERE name = 'upstream'")
            let old = lab.folder.appendingPathComponent("old.sqlite").path
            try FileManager.default.linkItem(atPath: db, toPath: old)
            try FileManager.default.linkItem(atPath: db + "-wal", toPath: old + "-wal")
            switch change {
            case .delete:
                for file in [db, db + "-shm", db + "-wal"] { try FileManager.default.removeItem(atPath: file) }
            case .replace:
                try FileManager.default.removeItem(atPath: db + "-wal")
                try FileManager.default.removeItem(atPath: db + "-shm")
                #expect(rename(replacement, db) == 0)
            }
            try locker.execute("ROLLBACK")
            locker.close()

            let reports = try await lab.reports(workers)
            let recorded = reports.map { $0.failuresRun - $0.recordErrors }.reduce(0, +)
            // A store that looks at the path while the three files are being removed one by one finds the old log
            // still there and fails with a typed error (`fileReplaced`) rather than open a new file beside it.
            let errors = reports.flatMap(\.errors)
            #expect(errors.allSatisfy { $0.contains("deleted or replaced") }, "\(errors)")
            for report in reports {
                // Each worker ended up writing to the file at the path.
                #expect(
                    report.events.last?.kind == .ran,
                    "\(report.actor) ended with \(String(describing: report.events.last))")
            }
            // Nothing was written to the old file after the change.
            #expect(try await lab.record("upstream", in: old).counts.failures == before)
            // Everything after it went to the one file at the path — but for the call each worker had in flight at
            // the change: admitted in the old file's circuit, its failure belongs to that circuit's life, which the
            // circuit in the new file never counts (a recreated circuit takes no outcome of an earlier life).
            let after = try await lab.record("upstream", in: db).counts.failures
            let expected = (change == .replace ? marker : 0) + Int64(recorded) - before
            #expect(after <= expected && after >= expected - Int64(reports.count), "\(after) of \(expected)")
            #expect(try lab.scalar("PRAGMA integrity_check") == "ok")
            print(
                "database \(change)d under 2 workers: \(before) failures in the old file at the change, none after; "
                    + "\(after) in the file at the path; \(recorded) recorded in all")
        }
    }
}

/// The size of the file at `path`, 0 if there is none.
private func fileSize(_ path: String) -> Int64 {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
}

/// Milliseconds since `start`, as a fraction.
private func milliseconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}
