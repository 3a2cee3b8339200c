import CircuitryWorkerReport
import Foundation
import Testing

@testable import Circuitry

extension CrossProcessTests {
    /// The policies that live in the circuit record (the rate window, the open-duration backoff's attempt
    /// count) are shared by every process: proved by 2 and 4 `circuitry-worker` processes on one database file, and on
    /// one schema of the test PostgreSQL server.
    ///
    /// Nested in ``CrossProcessTests`` so that its `.serialized` covers these tests too: they never run beside the
    /// other cross-process tests, whose stall and timing bounds must not share the two cores with them. The backoff
    /// test measures open periods of a few hundred milliseconds with real time.
    @Suite(.serialized)
    struct SharedPolicyTests {
        static let processCounts = [2, 4]
        static let stores = StoreKind.allCases

        // MARK: Rate window

        /// Each process alone makes fewer calls than the minimum throughput; only together do they reach it. A window
        /// kept per process would never trip.
        @Test(
            "the failure-rate window counts every process's calls and trips when they reach it together",
            arguments: stores, processCounts)
        func rateWindowShared(store: StoreKind, processes: Int) async throws {
            let lab = try await Lab.open(store)
            defer { lab.tearDown() }
            let minimum = 40
            // Two rounds of `minimum / 2` calls in all; each process makes `minimum / processes` < `minimum` calls.
            let perRound = minimum / 2 / processes
            try #require(2 * perRound < minimum && 2 * perRound * processes == minimum)
            // F S F S …: every process's recorded calls are at least half failures at every instant, so the window's
            // rate is always at least the threshold and only the minimum throughput holds the trip back.
            let common = [
                "calls", "--db", lab.dbArgument, "--circuit", "rate", "--outcome", "FS", "--calls", "\(perRound)",
                "--rate-window", "60000ms", "--minimum-throughput", "\(minimum)", "--failure-rate", "0.5",
                "--failure-threshold", "1000000",
            ]

            // 1. Half the minimum together: nothing trips, and the stored window holds each call of each process once.
            let first = try await lab.reports(try await lab.startTogether(processes, "first") { _ in common })
            #expect(first.allSatisfy { $0.errors.isEmpty && $0.ran == perRound && $0.rejected == 0 }, "\(first)")
            let halfway = try await lab.record("rate")
            let firstCalls = first.map(\.ran).reduce(0, +)
            let firstFailures = first.map(\.failuresRun).reduce(0, +)
            #expect(halfway.state == .closed)
            #expect(halfway.window.map(\.calls).reduce(0, +) == Int64(firstCalls))
            #expect(halfway.window.map(\.failures).reduce(0, +) == Int64(firstFailures))
            #expect(halfway.window.map(\.slowCalls).reduce(0, +) == 0)
            #expect(try await lab.history("rate").isEmpty)

            // 2. The other half together: the window reaches the minimum with the very last outcome recorded, so no
            //    outcome is dropped by the trip and the window at the trip is exactly every call of every process.
            let second = try await lab.reports(try await lab.startTogether(processes, "second") { _ in common })
            #expect(second.allSatisfy { $0.errors.isEmpty && $0.ran == perRound && $0.rejected == 0 }, "\(second)")
            let reports = first + second
            let calls = reports.map(\.ran).reduce(0, +)
            let failures = reports.map(\.failuresRun).reduce(0, +)
            #expect(calls == minimum)
            // Every call ran in the first generation: the circuit was closed until the last one was recorded.
            let generations = Set(reports.flatMap(\.ranEvents).map(\.generation))
            #expect(generations.count == 1, "\(generations)")

            let history = try await lab.history("rate")
            try #require(history.count == 1, "one trip: \(history.map(\.transition.reason))")
            let trip = history[0].transition
            #expect(trip.from == .closed && trip.to == .open)
            #expect(generations == [trip.generation - 1], "the trip started the generation after the calls'")
            let counted = try #require(trip.reason.firstMatch(of: #/^failure rate (\d+)/(\d+) in /#), "\(trip.reason)")
            // The window at the trip: exactly the calls and failures recorded by all processes.
            #expect(Int(counted.2) == calls)
            #expect(Int(counted.1) == failures)
            #expect(2 * failures >= calls)
            #expect(second.contains { trip.actor == $0.actor }, "tripped by \(trip.actor)")

            let record = try await lab.record("rate")
            #expect(record.state == .open)
            #expect(record.openAttempts == 1)
            #expect(record.window.isEmpty, "a new generation starts with an empty window")
            CrossProcessTests().expectExactlyOnce(history: history, reports: reports)
            print(
                "rate window, \(store), \(processes) processes × \(2 * perRound) calls (minimum \(minimum)): window "
                    + "\(halfway.window.map(\.calls).reduce(0, +)) calls after round 1, tripped by \(trip.actor): "
                    + trip.reason)
        }

        // MARK: Backoff

        /// One process trips the circuit, then each of N other processes fails exactly one probe, so every opening is
        /// committed by a process that has not opened the circuit before: an attempt count kept per process would
        /// open for the base period every time.
        @Test(
            "open periods grow 1×, 2×, 4× … up to the maximum whichever process opens, and restart after a close",
            arguments: stores, processCounts)
        func backoffShared(store: StoreKind, processes: Int) async throws {
            let lab = try await Lab.open(store)
            defer { lab.tearDown() }
            let base = 150
            let maximum = 600
            // The open period is a lower bound of the gap to the next half-open; the rest is polling and scheduling.
            let tolerance: Int64 = 250
            func expected(_ attempt: Int) -> Int64 { Int64(min(base << (attempt - 1), maximum)) }
            let settings = [
                "--db", lab.dbArgument, "--circuit", "backoff", "--failure-threshold", "1", "--open-for", "\(base)ms",
                "--backoff-factor", "2", "--backoff-max", "\(maximum)ms", "--backoff-jitter", "0",
                "--probe-timeout", "5000ms",
            ]
            let probing = [
                "calls", "--calls", "5000", "--duration-ms", "8000", "--outcome", "fail", "--until-probed",
                "--reject-pause-ms", "2",
            ]

            // 1. The probers and the healers wait at their barriers; the tripper opens the circuit (attempt 1).
            let probers = try await lab.readyTogether(processes, "probe") { _ in probing + settings }
            let healers = try await lab.readyTogether(processes, "heal") { _ in
                [
                    "calls", "--calls", "5000", "--duration-ms", "8000", "--outcome", "succeed", "--until-closed",
                    "--reject-pause-ms", "2",
                ] + settings
            }
            let tripper = try lab.start("tripper", ["calls", "--calls", "1", "--outcome", "fail"] + settings)
            _ = try await lab.reports([tripper])
            // 2. Each prober fails one probe (attempts 2 … N + 1) and stops.
            try probers.release()
            let probeReports = try await lab.reports(probers.workers)
            // 3. The upstream recovers: a probe succeeds once the last open period ends, and the circuit closes.
            try healers.release()
            let healReports = try await lab.reports(healers.workers)
            // 4. It fails again: the first failure opens it (attempt 1 again), then each process fails one probe.
            let again = try await lab.reports(
                try await lab.startTogether(processes, "again") { _ in probing + settings })

            for report in probeReports + again {
                #expect(report.errors.isEmpty && report.probes == 1, "\(report.actor): \(report.errors)")
            }
            #expect(probeReports.allSatisfy { $0.ran == 1 && $0.failuresRun == 1 })

            let entries = try await lab.history("backoff")
            let history = entries.map(\.transition)
            let opening = ["open→half-open", "half-open→open"]
            let steps = history.map { "\($0.from)→\($0.to)" }
            let expectedSteps =
                ["closed→open"] + Array([[String]](repeating: opening, count: processes).joined())
                + ["open→half-open", "half-open→closed", "closed→open"]
                + Array([[String]](repeating: opening, count: processes).joined())
            try #require(steps == expectedSteps, "\(steps)")

            // Phase 1's openings after the first are by N different processes, each a prober that never opened it.
            let reopeners = history[1...(2 * processes)].filter { $0.to == .open }.map(\.actor)
            #expect(Set(reopeners) == Set(probeReports.map(\.actor)), "\(reopeners)")
            #expect(history[0].actor.hasPrefix("tripper pid"))

            // Walk the history: the attempt count grows with each opening and restarts after the close.
            var attempt = 0
            var gaps: [[Int64]] = [[]]
            var expiries: Set<Int64> = []
            for (index, transition) in history.enumerated() {
                switch transition.to {
                case .closed:
                    attempt = 0
                    gaps.append([])
                case .open:
                    attempt += 1
                    let start = transition.at.millisecondsSince1970
                    expiries.insert(start + expected(attempt))
                    guard index + 1 < history.count else { continue }
                    let next = history[index + 1]
                    let gap = next.at.millisecondsSince1970 - start
                    gaps[gaps.count - 1].append(gap)
                    #expect(gap >= expected(attempt), "attempt \(attempt): open for \(gap) ms")
                    #expect(gap < expected(attempt) + tolerance, "attempt \(attempt): open for \(gap) ms")
                case .halfOpen:
                    continue
                }
            }
            #expect(gaps.count == 2 && gaps[0].count == processes + 1 && gaps[1].count == processes)

            // The last opening is still in force: its expiry is exactly the base × 2^N (capped) after it opened.
            let record = try await lab.record("backoff")
            let last = try #require(history.last)
            #expect(record.state == .open)
            #expect(record.openAttempts == Int64(processes + 1))
            #expect(
                record.expiresAt.map { $0.millisecondsSince1970 - last.at.millisecondsSince1970 }
                    == expected(processes + 1))

            // Every process told to wait was told the shared expiry of the opening in force, to the millisecond.
            let reports = probeReports + healReports + again
            let told = reports.flatMap(\.rejections).filter { $0.reason == "open" }.compactMap(\.retryAfter)
            #expect(!told.isEmpty)
            #expect(told.allSatisfy { expiries.contains($0) }, "\(Set(told).subtracting(expiries).sorted())")
            CrossProcessTests().expectExactlyOnce(history: entries, reports: reports, ignoring: ["tripper pid"])
            print(
                "backoff, \(store), \(processes) processes, base \(base) ms ×2 up to \(maximum) ms: open for \(gaps[0]) ms, "
                    + "then after the close \(gaps[1]) ms + \(expected(processes + 1)) in force; opened by "
                    + "\(history.filter { $0.to == .open }.map { $0.actor.components(separatedBy: " ").first ?? "" })")
        }
    }
}
