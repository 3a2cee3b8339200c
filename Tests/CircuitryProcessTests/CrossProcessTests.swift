import CircuitryWorkerReport
import Foundation
import Testing

@testable import Circuitry

/// The guarantees of DESIGN.md ("Guarantees that tests must prove with real processes"), each proved by 2, 4 and 8
/// `circuitry-worker` processes on one database file in a fresh temporary folder, and (all but the SQLite-only
/// write-lock crash) by as many processes connecting over TCP to a fresh schema of a real PostgreSQL 15 server.
///
/// Serialized: the tests measure stalls and race processes against each other, so they do not share the two cores
/// with each other. Where breaker time must pass (open periods, probe leases) they use real durations of a few
/// hundred milliseconds: separate processes cannot share an injected clock.
@Suite(.serialized)
struct CrossProcessTests {
    static let processCounts = [2, 4, 8]
    static let stores = StoreKind.allCases
    /// Every store with 2, 4 and 8 workers asking it on every admission, and again with 8 workers that admit from a local
    /// view (`maximumStaleness`): the most processes, the most calls admitted from views while another process trips
    /// the circuit. (All three counts with the view took CI's run 2 minutes longer, for no check the 8 do not make.)
    static let setups: [(Setup, Int)] =
        stores.flatMap { store in processCounts.map { (Setup(store: store, staleness: nil), $0) } }
        + stores.map { (Setup(store: $0, staleness: Setup.view), 8) }

    // MARK: 1. No lost updates

    @Test("N × K failures and N × K successes are all counted", arguments: setups)
    func noLostUpdates(setup: Setup, processes: Int) async throws {
        let store = setup.store
        let lab = try await Lab.open(store)
        defer { lab.tearDown() }
        let calls = 60
        let common =
            ["calls", "--db", lab.dbArgument, "--calls", "\(calls)", "--failure-threshold", "1000000"]
            + setup.workerArguments

        // Failures are written at once; the threshold is never reached.
        let failing = try await lab.startTogether(processes, "fail") { _ in
            common + ["--circuit", "failures", "--outcome", "fail"]
        }
        let failReports = try await lab.reports(failing)
        #expect(
            failReports.map(\.recordErrors) == Array(repeating: 0, count: processes), "\(failReports.flatMap(\.errors))"
        )
        let failures = try await lab.record("failures")
        #expect(failures.state == .closed)
        #expect(failures.counts.failures == Int64(processes * calls))
        #expect(failures.counts.requests == Int64(processes * calls))
        #expect(failures.counts.consecutiveFailures == Int64(processes * calls))

        // Successes are batched in each process (7 at a time here) and the rest written by flush() at exit.
        let succeeding = try await lab.startTogether(processes, "ok") { _ in
            common + ["--circuit", "successes", "--outcome", "succeed", "--max-batch", "7"]
        }
        let okReports = try await lab.reports(succeeding)
        #expect(okReports.allSatisfy { $0.flushed && $0.recordErrors == 0 }, "\(okReports.flatMap(\.errors))")
        let successes = try await lab.record("successes")
        #expect(successes.counts.successes == Int64(processes * calls))
        #expect(successes.counts.requests == Int64(processes * calls))

        // Both at once on one circuit: S S F repeated.
        let mixed = try await lab.startTogether(processes, "mixed") { _ in
            common + ["--circuit", "mixed", "--outcome", "SSF", "--max-batch", "5"]
        }
        let mixedReports = try await lab.reports(mixed)
        #expect(mixedReports.allSatisfy { $0.flushed && $0.recordErrors == 0 })
        let both = try await lab.record("mixed")
        #expect(both.counts.failures == Int64(processes * calls / 3))
        #expect(both.counts.successes == Int64(processes * calls * 2 / 3))
        #expect(both.counts.requests == Int64(processes * calls))
        print(
            "no lost updates, \(setup), \(processes) processes × \(calls) calls: failures \(failures.counts.failures), "
                + "successes \(successes.counts.successes), mixed \(both.counts.failures) + \(both.counts.successes)")
    }

    // MARK: 2. Trip accounting

    @Test(
        "at most F + N − 1 failing calls run, and every process is rejected right after", arguments: setups)
    func tripAccounting(setup: Setup, processes: Int) async throws {
        let store = setup.store
        let lab = try await Lab.open(store)
        defer { lab.tearDown() }
        let threshold = 5
        let workers = try await lab.startTogether(processes, "trip") { _ in
            [
                "calls", "--db", lab.dbArgument, "--circuit", "trip", "--calls", "40", "--outcome", "fail",
                "--failure-threshold", "\(threshold)", "--open-for", "60000ms", "--work-ms", "2", "--reject-pause-ms",
                "1",
            ] + setup.workerArguments
        }
        let reports = try await lab.reports(workers)
        let history = try await lab.history("trip")
        try #require(history.count == 1, "one trip: \(history)")
        let trip = history[0].transition
        #expect(trip.from == .closed && trip.to == .open)
        #expect(trip.reason == "\(threshold) consecutive failures")

        let ran = reports.map(\.failuresRun).reduce(0, +)
        #expect(ran >= threshold)
        #expect(ran <= threshold + processes - 1, "failing calls run: \(ran)")
        for report in reports {
            // Every process was rejected, and never admitted again after its first rejection.
            #expect(report.rejected > 0, "\(report.actor) was never rejected")
            #expect(report.ranAfterFirstRejection == 0)
            // No call was admitted after the trip committed, in any process. The trip is stamped when its writer
            // read the record, before it committed; a read in between still saw the circuit closed, so a call may
            // be stamped up to that gap later: microseconds on SQLite (a few ms when the writer is preempted), one
            // write round trip on a server store (moto answers in 10–20 ms, 100+ ms on a loaded machine). With a
            // local view, a process may admit from a view up to the staleness bound old: the bound widens by exactly it.
            let gap: Int64 = (store == .sqlite ? 50 : 500) + setup.stalenessMilliseconds
            for event in report.ranEvents {
                #expect(event.admittedAt! <= trip.at.millisecondsSince1970 + gap, "\(store)")
            }
            // Each rejection names the end of the open period.
            for rejection in report.rejections {
                #expect(rejection.reason == "open")
                #expect(rejection.retryAfter == (trip.at + .seconds(60)).millisecondsSince1970)
            }
        }
        let record = try await lab.record("trip")
        #expect(record.state == .open)
        print(
            "trip accounting, \(setup), \(processes) processes, threshold \(threshold): \(ran) failing calls ran "
                + "(bound \(threshold + processes - 1))")
    }

    // MARK: 3. Half-open budget

    @Test("at most closeThreshold probes per half-open period, none while open", arguments: setups)
    func halfOpenBudget(setup: Setup, processes: Int) async throws {
        let store = setup.store
        let lab = try await Lab.open(store)
        defer { lab.tearDown() }
        let closeThreshold = 2
        let openFor = 150
        // With a local view, a process may admit from a closed view up to the staleness bound after the opening.
        let commitGap: Int64 = (store == .sqlite ? 1 : 50) + setup.stalenessMilliseconds
        // Failing for 700 ms: the circuit trips, several half-open periods fail their probes, then it closes.
        let workers = try await lab.startTogether(processes, "half") { _ in
            [
                "calls", "--db", lab.dbArgument, "--circuit", "half", "--calls", "5000", "--duration-ms", "1400",
                "--fail-for-ms", "700", "--outcome", "succeed", "--failure-threshold", "3",
                "--close-threshold", "\(closeThreshold)", "--open-for", "\(openFor)ms", "--probe-timeout", "5000ms",
                "--work-ms", "20", "--reject-pause-ms", "3",
            ] + setup.workerArguments
        }
        let reports = try await lab.reports(workers)
        let history = try await lab.history("half")
        // The state each generation started in; the new circuit's first generation (the one before its first
        // transition) is closed.
        var stateOf: [Int64: CircuitState] = [:]
        if let first = history.first { stateOf[first.transition.generation - 1] = first.transition.from }
        for entry in history { stateOf[entry.transition.generation] = entry.transition.to }
        let halfOpenPeriods = history.filter { $0.transition.to == .halfOpen }.count
        #expect(halfOpenPeriods >= 2, "\(history.map(\.transition.reason))")
        #expect(history.last?.transition.to == .closed)

        var probesPerPeriod: [Int64: Int] = [:]
        for report in reports {
            for event in report.ranEvents {
                let generation = event.generation!
                switch stateOf[generation] {
                case .halfOpen:
                    #expect(event.lease != nil)
                    probesPerPeriod[generation, default: 0] += 1
                case .closed:
                    #expect(event.lease == nil)
                case .open, nil:
                    Issue.record(
                        "a call was admitted in generation \(generation), which is \(String(describing: stateOf[generation]))"
                    )
                }
                // None while open: no admission strictly inside an open period. As in trip accounting, an opening
                // is stamped before it commits, and a plain read in between still admits: on PostgreSQL that gap is
                // the transaction's round trips, a few ms (more when the writer is preempted).
                for open in history where open.transition.to == .open {
                    let start = open.transition.at.millisecondsSince1970
                    #expect(!(start + commitGap..<start + Int64(openFor)).contains(event.admittedAt!))
                }
            }
        }
        #expect(probesPerPeriod.count == halfOpenPeriods)
        #expect(probesPerPeriod.values.allSatisfy { $0 <= closeThreshold }, "\(probesPerPeriod)")
        expectExactlyOnce(history: history, reports: reports)
        print(
            "half-open budget, \(setup), \(processes) processes: \(halfOpenPeriods) half-open periods, probes per period "
                + "\(probesPerPeriod.sorted { $0.key < $1.key }.map(\.value)) (budget \(closeThreshold))")
    }

    // MARK: 4. Crash safety

    @Test(
        "a worker SIGKILLed while holding a probe lease does not wedge the circuit", arguments: setups)
    func crashWithProbeLease(setup: Setup, processes: Int) async throws {
        let store = setup.store
        let lab = try await Lab.open(store)
        defer { lab.tearDown() }
        // The lease must outlive the test's own steps between the holder's admission and the workers' release (kill
        // the holder, see it dead), or no worker can be rejected while it is live: 2 s leaves room on a loaded machine.
        let lease = 2000
        let settings =
            [
                "--db", lab.dbArgument, "--circuit", "lease", "--failure-threshold", "1", "--close-threshold", "1",
                "--open-for", "250ms", "--probe-timeout", "\(lease)ms",
            ] + setup.workerArguments
        let tripper = try lab.start("tripper", ["calls", "--calls", "1", "--outcome", "fail"] + settings)
        _ = try await lab.reports([tripper])

        // The workers wait at the barrier while another worker takes the probe lease and is killed holding it.
        let workers = try await lab.readyTogether(processes, "after") { _ in
            [
                "calls", "--calls", "3000", "--duration-ms", "\(5000 + lease)", "--outcome", "succeed",
                "--until-closed",
                "--reject-pause-ms", "5",
            ] + settings
        }
        let holder = try lab.start("holder", ["hold-probe"] + settings)
        // Start-up, not a guarantee: on 2 busy cores a process can take many seconds to start and connect.
        let line = try await holder.firstLine(timeout: .seconds(30))
        let holding = try JSONDecoder().decode(Holding.self, from: Data(line.utf8))
        try #require(holding.holding, "\(holder)")
        holder.kill()
        #expect(await holder.wait(timeout: .seconds(5)).signaled)
        let leaseDeadline = holding.admittedAt! + Int64(lease)
        try workers.release()

        let reports = try await lab.reports(workers.workers)
        let history = try await lab.history("lease")
        let steps = history.map { "\($0.transition.from)→\($0.transition.to)" }
        try #require(
            steps == ["closed→open", "open→half-open", "half-open→open", "open→half-open", "half-open→closed"])
        let expiry = history[2].transition
        #expect(expiry.reason == "probe lease expired")
        #expect(expiry.at.millisecondsSince1970 >= leaseDeadline)
        #expect(try await lab.record("lease").state == .closed)

        var exhausted = 0
        for report in reports {
            // Each worker ended with a call admitted by the closed circuit.
            #expect(
                report.ranEvents.last?.lease == nil
                    && report.ranEvents.last?.generation == history[4].transition.generation)
            for rejection in report.rejections where rejection.at < leaseDeadline {
                // While the dead worker's lease was live, the probe budget was taken and the rejection said until when.
                #expect(rejection.reason == "probes-exhausted")
                #expect(rejection.retryAfter == leaseDeadline)
                exhausted += 1
            }
        }
        #expect(exhausted > 0, "no worker was rejected while the dead lease was live")
        expectExactlyOnce(history: history, reports: reports, ignoring: ["holder pid", "tripper pid"])
        print(
            "probe-lease crash, \(setup), \(processes) processes: \(exhausted) rejections while the dead lease was live; "
                + "lease expired at +\(expiry.at.millisecondsSince1970 - holding.admittedAt!) ms; closed by "
                + history[4].transition.actor)
    }

    @Test("a worker SIGKILLed inside a write transaction leaves an intact database", arguments: processCounts)
    func crashInsideWriteTransaction(processes: Int) async throws {
        let lab = try Lab()
        defer { lab.tearDown() }
        let busy = 250
        let settings = ["--db", lab.database, "--circuit", "locked", "--failure-threshold", "1000000"]
        let seed = try lab.start("seed", ["calls", "--calls", "3", "--outcome", "fail"] + settings)
        _ = try await lab.reports([seed])

        let holder = try lab.start("holder", ["hold-write-lock", "--db", lab.database, "--circuit", "locked"])
        let holding = try JSONDecoder().decode(
            Holding.self, from: Data(try await holder.firstLine(timeout: .seconds(30)).utf8))
        try #require(holding.holding, "\(holding)")

        // The workers run until the holder is dead, plus one call that starts after that (a fixed window of theirs
        // could end, on a loaded machine, before the test gets to kill the holder); 60 s is only a safety cap.
        let stop = lab.folder.appendingPathComponent("holder-dead").path
        let workers = try await lab.startTogether(processes, "blocked") { _ in
            [
                "calls", "--calls", "100000", "--duration-ms", "60000", "--outcome", "fail", "--busy-ms", "\(busy)",
                "--work-ms", "2", "--reject-pause-ms", "1", "--until-file", stop,
            ] + settings
        }
        // Long enough that every worker hits its busy bound at least once; then the holder dies mid-transaction.
        try await Task.sleep(for: .milliseconds(3 * busy))
        holder.kill()
        #expect(await holder.wait(timeout: .seconds(5)).signaled)
        #expect(FileManager.default.createFile(atPath: stop, contents: nil))
        let reports = try await lab.reports(workers)

        #expect(try lab.scalar("PRAGMA integrity_check") == "ok")
        #expect(try lab.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'partial_filler'") == "0")
        #expect(try lab.scalar("SELECT count(*) FROM transitions") == "0")
        let record = try await lab.record("locked")
        let recorded = reports.map { $0.failuresRun - $0.recordErrors }.reduce(0, +)
        // No partial record, and every failure whose recording committed is there.
        #expect(record.state == .closed)
        #expect(record.counts.failures == Int64(3 + recorded))

        let slack = 500.0
        for report in reports {
            // While the lock was held, recording stalled and then failed as busy, within the bound ...
            #expect(report.recordErrors >= 1, "\(report.actor) never stalled")
            #expect(
                report.errors.allSatisfy { $0.contains("SQLITE_BUSY") || $0.contains("locked") }, "\(report.errors)")
            #expect(report.slowestRecordMs < Double(busy) + slack)
            // ... admission of a closed circuit is a plain read, which the writer does not block in WAL mode ...
            #expect(report.slowestAcquireMs < slack)
            // ... and after the kill, recording works again.
            #expect(report.ranEvents.last?.recordMs ?? .infinity < Double(busy))
        }
        let stalls = reports.map { Int($0.slowestRecordMs) }
        print(
            "write-lock crash, \(processes) processes: busy bound \(busy) ms, slowest record per process \(stalls) ms, "
                + "busy errors \(reports.map(\.recordErrors)), failures recorded \(record.counts.failures)")
    }

    // MARK: 5. Exactly once

    @Test("each transition is committed, recorded and called back once", arguments: setups)
    func exactlyOnce(setup: Setup, processes: Int) async throws {
        let store = setup.store
        let lab = try await Lab.open(store)
        defer { lab.tearDown() }
        // All processes fail at once (one trip), race for the half-open transition when the open period ends,
        // and one probe closes the circuit. The upstream is down until the circuit first opens, whenever each process
        // gets there: a failure window of each process's own (it used to be 100 ms from its start) could, on a loaded
        // machine, still be open in a late process after the circuit closed, and open it again.
        let workers = try await lab.startTogether(processes, "once") { _ in
            [
                "calls", "--db", lab.dbArgument, "--circuit", "once", "--calls", "3000", "--duration-ms", "5000",
                "--fail-until-opened", "--outcome", "succeed", "--failure-threshold", "1", "--open-for", "250ms",
                "--work-ms", "5", "--reject-pause-ms", "1", "--until-closed",
            ] + setup.workerArguments
        }
        let reports = try await lab.reports(workers)
        let history = try await lab.history("once")
        let steps = history.map { "\($0.transition.from)→\($0.transition.to)" }
        #expect(steps == ["closed→open", "open→half-open", "half-open→closed"])
        #expect(Set(history.map(\.transition.generation)).count == history.count)
        let callbacks = reports.flatMap(\.callbacks)
        #expect(callbacks.count == 3)
        expectExactlyOnce(history: history, reports: reports)
        print("exactly once, \(setup), \(processes) processes: transitions by \(history.map(\.transition.actor))")
    }

    // MARK: 6. Start-up race

    @Test("processes opening a brand-new database at the same instant all succeed", arguments: stores, processCounts)
    func startUpRace(store: StoreKind, processes: Int) async throws {
        let lab = try await Lab.open(store)
        defer { lab.tearDown() }
        // PostgreSQL: the objects one process alone creates in a fresh schema, to compare the raced schemas with.
        let reference = try await postgresObjects(lab, in: lab.newDatabase("reference"), prepare: true)
        if let reference { #expect(reference.contains("r circuits"), "\(reference)") }
        // Fewer rounds on PostgreSQL, whose workers take longer to start (connecting over TCP).
        let rounds = store == .sqlite ? 5 : 3
        for round in 1...rounds {
            let path = lab.newDatabase("new-\(round)")
            if let prefix = Lab.prefix(of: path) {
                #expect(try lab.redisServer?.cli(["EXISTS", "{\(prefix)}:meta"]) == "0")
            } else if let schema = Lab.schema(of: path) {
                #expect(
                    try await lab.server?.psql("SELECT count(*) FROM pg_namespace WHERE nspname = '\(schema)'") == "0")
            } else {
                #expect(!FileManager.default.fileExists(atPath: path))
            }
            let workers = try await lab.startTogether(processes, "open\(round)") { _ in
                [
                    "calls", "--db", path, "--circuit", "startup", "--calls", "1", "--outcome", "fail",
                    "--failure-threshold",
                    "1000",
                ]
            }
            let reports = try await lab.reports(workers)
            #expect(
                reports.allSatisfy { $0.errors.isEmpty && $0.recordErrors == 0 && $0.failuresRun == 1 },
                "\(reports.flatMap(\.errors))")
            if let prefix = Lab.prefix(of: path) {
                // The keys marked as Circuitry's once, and every process's call counted.
                #expect(try lab.redisServer?.cli(["HGETALL", "{\(prefix)}:meta"]) == "version\n1")
                #expect(try await lab.record("startup", in: path).counts.failures == Int64(processes))
                continue
            }
            guard store == .sqlite else {
                if let server = lab.server {
                    // One set of tables, the same as one process alone creates, with one version row.
                    #expect(try await postgresObjects(lab, in: path) == reference)
                    let schema = try #require(Lab.schema(of: path))
                    #expect(try await server.psql("SELECT count(*) FROM \"\(schema)\".circuitry_schema") == "1")
                }
                // DynamoDB: one process created the table, the others waited for it; all recorded their call.
                #expect(try await lab.record("startup", in: path).counts.failures == Int64(processes))
                continue
            }
            let objects = try lab.scalar(
                "SELECT group_concat(type || ' ' || name, ', ') FROM (SELECT type, name FROM sqlite_schema ORDER BY name)",
                path: path)
            #expect(
                objects
                    == "view circuit_status, table circuits, table sqlite_sequence, view transition_log, "
                    + "table transitions, index transitions_by_circuit")
            #expect(try lab.scalar("PRAGMA user_version", path: path) == "\(SQLiteSchema.version)")
            #expect(try lab.scalar("PRAGMA application_id", path: path) == "\(SQLiteSchema.applicationID)")
            #expect(try lab.scalar("PRAGMA journal_mode", path: path) == "wal")
            #expect(try lab.scalar("PRAGMA integrity_check", path: path) == "ok")
            #expect(
                try lab.scalar("SELECT failures FROM circuits WHERE name = 'startup'", path: path) == "\(processes)")
        }
        print(
            "start-up race, \(store), \(processes) processes × \(rounds) rounds: every process opened and recorded its call; "
                + (reference.map { "each raced schema holds what one process creates: \($0)" }
                    ?? (store == .sqlite ? "each new file holds one set of tables" : "each new prefix is marked once")))
    }

    // MARK: Helpers

    /// The objects (relation kind and name) in the schema of PostgreSQL database `db`, after opening it with a store
    /// first when `prepare` is set; `nil` in a SQLite lab.
    func postgresObjects(_ lab: Lab, in db: String, prepare: Bool = false) async throws -> String? {
        guard let server = lab.server else { return nil }
        if prepare { try await lab.withStore(db) { _ in } }
        let schema = try #require(Lab.schema(of: db))
        return try await server.psql(
            """
            SELECT string_agg(c.relkind::text || ' ' || c.relname::text, ', ' ORDER BY c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '\(schema)'
            """)
    }

    /// Every history row was called back exactly once, in the process that committed it (its actor), and every
    /// callback has its history row. Rows committed by the processes in `ignoring` (killed ones, set-up ones) are
    /// left out: they cannot report.
    func expectExactlyOnce(
        history: [HistoryEntry], reports: [WorkerReport], ignoring: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let rows = history.map(\.transition).filter { row in !ignoring.contains { row.actor.hasPrefix($0) } }
        var expected: [TransitionReport: Int] = [:]
        for row in rows { expected[TransitionReport(row), default: 0] += 1 }
        var called: [TransitionReport: Int] = [:]
        for report in reports {
            for callback in report.callbacks {
                #expect(callback.actor == report.actor, sourceLocation: sourceLocation)
                called[callback, default: 0] += 1
            }
        }
        #expect(
            expected.values.allSatisfy { $0 == 1 }, "a transition was recorded twice", sourceLocation: sourceLocation)
        #expect(called == expected, sourceLocation: sourceLocation)
    }
}
