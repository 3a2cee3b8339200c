import Foundation
import Testing

/// `make demo` end to end, so that what the README shows stays true: the built `circuitry-demo` runs its 4 worker
/// processes twice (shared SQLite breakers, then in-memory ones) and its output is checked.
@Suite struct DemoTests {
    @Test func sharedBreakersStopTheBrokenUpstreamSoonerAndHealthyTenantsKeepFlowing() async throws {
        let lab = try Lab()
        defer { lab.tearDown() }
        let (workers, threshold, openForMs) = (4, 5, 800)
        // TMPDIR: the demo's files go into the lab's folder, which tearDown removes.
        let demo = try WorkerProcess(
            binary: try Lab.product("circuitry-demo"),
            arguments: ["--workers", "\(workers)", "--threshold", "\(threshold)", "--open-for-ms", "\(openForMs)"],
            name: "demo", folder: lab.folder, environment: ["TMPDIR": lab.folder.path])
        let exit = await demo.wait(timeout: .seconds(120))
        try #require(exit.succeeded, "\(demo)")
        let output = demo.output

        let shared = try #require(number(after: "shared store", in: output), "\(output)")
        let inMemory = try #require(number(after: "in-memory", in: output), "\(output)")
        // The outage lasts 2 s: at most F + N − 1 failing calls trip the shared circuit (guarantee 2), and each
        // open period of 800 ms that ends inside the outage lets at most one failing probe through.
        let probePeriods = 2000 / openForMs + 1
        #expect(shared >= threshold && shared <= threshold + workers - 1 + probePeriods, "\(output)")
        // Each process must see `threshold` failures of its own before its private breaker opens.
        #expect(inMemory >= workers * threshold, "\(output)")
        print("demo: \(shared) failing calls with shared breakers, \(inMemory) with in-memory ones")

        let healthy = try #require(
            output.firstMatch(of: /Healthy tenants' jobs done: shared (\d+) of (\d+), in-memory (\d+) of (\d+)/),
            "\(output)")
        #expect(healthy.output.1 == healthy.output.2 && healthy.output.3 == healthy.output.4, "\(output)")
        #expect(Int(healthy.output.2) ?? 0 > 0)

        // The shared circuit's timeline, read back from the history table, and the operator's `sqlite3` view.
        #expect(output.contains("send-email/globex  closed → open  (\(threshold) consecutive failures)"), "\(output)")
        #expect(output.contains("send-email/globex  half-open → closed"), "\(output)")
        #expect(output.contains(#/send-email/globex +closed +\d+ +0 /#), "sqlite3 shows the closed circuit: \(output)")
    }

    /// The number that follows `label` on its line of the contrast, e.g. `shared store     7   (…)`.
    private func number(after label: String, in output: String) -> Int? {
        for line in output.split(separator: "\n") where line.hasPrefix("  \(label) ") {
            let digits = line.dropFirst(label.count + 2).drop { $0 == " " }.prefix { $0.isNumber }
            return Int(digits)
        }
        return nil
    }
}
