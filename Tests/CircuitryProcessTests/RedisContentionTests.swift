#if Redis
import CircuitryRedisTestSupport
import CircuitryWorkerReport
import Foundation
import Testing

@testable import Circuitry

/// Redis updates are optimistic: an update that finds the circuit changed since its read tries again. Eight processes
/// failing as fast as they can on one circuit are the worst case: every failure is a write of the same record.
@Suite(.serialized)
struct RedisContentionTests {
    @Test("8 processes writing one circuit: every failure counted, retries bounded, no call past its timeout")
    func eightProcessesOnOneCircuit() async throws {
        // A server of its own: eight processes writing as fast as they can keep a shared one too busy for the other
        // tests.
        let server = try await TestRedisServer.start()
        defer { server.stop(crash: true) }
        let lab = try Lab.open(redis: server)
        defer { lab.tearDown() }
        let processes = 8
        let calls = 150
        let workers = try await lab.startTogether(processes, "hot") { _ in
            [
                "calls", "--db", lab.dbArgument, "--circuit", "hot", "--calls", "\(calls)", "--outcome", "fail",
                "--failure-threshold", "1000000",
            ]
        }
        let reports = try await lab.reports(workers, timeout: .seconds(120))
        #expect(reports.map(\.recordErrors) == Array(repeating: 0, count: processes), "\(reports.flatMap(\.errors))")
        #expect(reports.map(\.acquireErrors) == Array(repeating: 0, count: processes))
        let record = try await lab.record("hot")
        #expect(record.counts.failures == Int64(processes * calls))
        let retries = reports.map(\.busyWaits).reduce(0, +)
        let most = reports.map(\.mostUpdateAttempts).max() ?? 0
        let slowest = reports.map(\.slowestRecordMs).max() ?? 0
        // The store's bounds: 64 attempts and its 2 s operation timeout (plus the scheduling of a busy machine).
        #expect(most < 64)
        #expect(slowest < 2500, "slowest record \(slowest) ms")
        print(
            "contention, Redis, \(processes) processes × \(calls) failures on one circuit: \(retries) retries "
                + "(\(String(format: "%.2f", Double(retries) / Double(processes * calls))) per update), "
                + "at most \(most) attempts, slowest record \(Int(slowest)) ms, slowest admission "
                + "\(Int(reports.map(\.slowestAcquireMs).max() ?? 0)) ms")
    }
}
#endif
