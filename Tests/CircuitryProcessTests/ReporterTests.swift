import Foundation
import Testing

@testable import Circuitry

extension CrossProcessTests {
    /// ``BreakerSettings/minimumReporters`` with real processes, each its own reporter (the default identity, pid and
    /// host): one bad worker cannot trip the shared circuit; two can.
    @Test(
        "one process failing every call never trips a circuit that requires 2 reporters; two failing processes do",
        arguments: stores)
    func minimumReporters(store: StoreKind) async throws {
        let lab = try await Lab.open(store)
        defer { lab.tearDown() }
        let arguments = [
            "calls", "--db", lab.dbArgument, "--circuit", "fleet", "--outcome", "fail", "--failure-threshold", "3",
            "--minimum-reporters", "2", "--open-for", "60000ms", "--reject-pause-ms", "20",
        ]
        let lone = try await lab.startTogether(1, "lone") { _ in arguments + ["--calls", "200"] }
        let loneReport = try #require(try await lab.reports(lone).first)
        #expect(loneReport.failuresRun == 200, "every call ran: \(loneReport.errors)")
        #expect(loneReport.rejected == 0)
        #expect(try await lab.history("fleet").isEmpty, "no transition")
        let record = try await lab.record("fleet")
        #expect(record.state == .closed)
        #expect(record.counts.consecutiveFailures == 200)
        #expect(record.reporters.count == 1)

        // Two processes failing, on a circuit of their own: it trips once both have failed, and each runs until its
        // first rejection.
        let pair = try await lab.startTogether(2, "pair") { _ in
            arguments.map { $0 == "fleet" ? "pair" : $0 } + ["--calls", "100000", "--until-rejected"]
        }
        let reports = try await lab.reports(pair)
        let history = try await lab.history("pair")
        #expect(history.map(\.transition.to) == [.open], "\(history.map(\.transition.reason))")
        #expect(history.first?.transition.reason.hasSuffix("from 2 reporters") == true)
        #expect(reports.allSatisfy { $0.rejected == 1 }, "each stopped at its first rejection")
        #expect(try await lab.record("pair").reporters.isEmpty, "cleared by the trip")
    }
}
