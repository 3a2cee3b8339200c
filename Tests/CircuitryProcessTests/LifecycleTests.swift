#if ServiceLifecycle

import CircuitryWorkerReport
import Foundation
import Testing

@testable import Circuitry

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CrossProcessTests {
    /// The factory as a swift-service-lifecycle `Service` in a real worker process (`circuitry-worker serve`): what it
    /// batched reaches the store when the process is stopped with SIGTERM, and while it idles.
    @Suite(.serialized)
    struct LifecycleTests {
        static let stores = StoreKind.allCases

        /// The successes are batched (a batch of up to a million, written after an hour at the earliest) until SIGTERM
        /// starts the service group's graceful shutdown: the calls stop, then the factory's service writes the batch.
        @Test(
            "a worker stopped with SIGTERM inside a service group leaves its batched successes in the store",
            arguments: stores)
        func sigtermWritesTheBatch(store: StoreKind) async throws {
            let lab = try await Lab.open(store)
            defer { lab.tearDown() }
            let worker = try lab.start(
                "serve",
                [
                    "serve", "--db", lab.dbArgument, "--circuit", "batched", "--max-batch", "1000000",
                    "--announce-after", "200",
                ])
            let progress = try JSONDecoder().decode(
                ServeProgress.self, from: Data(try await worker.firstLine(timeout: .seconds(60)).utf8))
            #expect(progress.successes == 200)
            // Everything so far is batched in the worker: the first admission wrote the record, nothing since.
            let before = try await lab.record("batched")
            #expect(before.counts.successes == 0 && before.counts.requests == 0, "\(before.counts)")

            worker.kill(SIGTERM)
            let exit = await worker.wait(timeout: .seconds(30))
            try #require(exit.succeeded, "\(worker)")
            let line = try #require(worker.output.split(separator: "\n").last.map(String.init))
            let report = try JSONDecoder().decode(ServeReport.self, from: Data(line.utf8))
            #expect(report.errors.isEmpty, "\(report.errors)")
            #expect(report.successes >= 200)

            let after = try await lab.record("batched")
            #expect(after.counts.successes == Int64(report.successes), "every success the worker ran, exactly")
            #expect(after.counts.requests == Int64(report.successes))
            #expect(after.counts.failures == 0)
        }

        /// 50 successes back to back, then no call at all: the factory's service writes the batch once it is as old
        /// as the flush interval (1 s), while the worker idles, not at its shutdown.
        @Test("an idle worker's batch is written within the flush interval", arguments: stores)
        func idleBatchIsWritten(store: StoreKind) async throws {
            let lab = try await Lab.open(store)
            defer { lab.tearDown() }
            let interval: Int64 = 1000
            let calls = 50
            let worker = try lab.start(
                "idle",
                [
                    "serve", "--db", lab.dbArgument, "--circuit", "idle", "--max-batch", "1000000",
                    "--flush-interval-ms", "\(interval)", "--calls", "\(calls)", "--announce-after", "\(calls)",
                    "--pause-ms", "0",
                ])
            // Printed after the last call: from then on no call can write the batch.
            let idle = try JSONDecoder().decode(
                ServeProgress.self, from: Data(try await worker.firstLine(timeout: .seconds(60)).utf8))
            #expect(idle.successes == calls)
            #expect(idle.batched > 0, "successes still batched when the calls stopped")

            // Wait for the batch to reach the store (bounded well beyond the interval, for a loaded machine).
            let deadline = ContinuousClock.now + .seconds(30)
            var record = try await lab.record("idle")
            while record.counts.successes < Int64(calls), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                record = try await lab.record("idle")
            }
            #expect(record.counts.successes == Int64(calls), "\(record.counts)")
            #expect(worker.isRunning, "written while the worker idles, not by its shutdown")
            // Within the interval of the last success, with an allowance of 1 s for a process that the loaded machine
            // schedules late.
            let written = record.updatedAt.millisecondsSince1970
            #expect(written - idle.at <= interval + 1000, "written \(written - idle.at) ms after the last success")

            worker.kill(SIGTERM)
            let exit = await worker.wait(timeout: .seconds(30))
            try #require(exit.succeeded, "\(worker)")
            #expect(try await lab.record("idle").counts.successes == Int64(calls), "the shutdown adds nothing")
        }
    }
}

#endif
