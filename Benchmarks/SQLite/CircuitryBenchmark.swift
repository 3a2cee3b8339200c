import Circuitry
import CircuitryBenchmarkSupport
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct CircuitryBenchmark {
    /// Not `async`: an async `main` ends in libdispatch's `dispatch_main`, whose `sigsuspend` on a read-only signal
    /// mask crashes valgrind 3.19 (it writes to the mask), and instruction counts need valgrind. The main thread waits
    /// on a semaphore instead, outside the cooperative pool.
    static func main() {
        let finished = DispatchSemaphore(value: 0)
        // Detached: `main` is on the main actor, which the waiting main thread would never run.
        Task.detached {
            do {
                let options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
                if let worker = options.worker {
                    try await Worker.run(worker, options)
                } else {
                    try await Coordinator(options: options).run()
                }
            } catch {
                FileHandle.standardError.write(Data("circuitry-bench: \(error)\n".utf8))
                exit(1)
            }
            finished.signal()
        }
        finished.wait()
    }
}

/// Runs every case on one temporary database, prints the table and writes the JSON file.
struct Coordinator {
    let options: Options

    func run() async throws {
        #if DEBUG
        print("warning: this is a debug build; run `make bench` (release) for figures worth quoting")
        #endif
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "circuitry-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer {
            if options.keep {
                print("kept \(folder.path)")
            } else {
                try? FileManager.default.removeItem(at: folder)
            }
        }
        let database = folder.appendingPathComponent("bench.sqlite").path
        let started = monotonicNanoseconds()
        let loadAtStart = loadAverage()
        var report = Report()

        let creation = monotonicNanoseconds()
        let store = try SQLiteCircuitStore(path: database)
        report.figure("open.create_new_file_ns", Double(monotonicNanoseconds() - creation))
        defer { store.close() }
        let raw = try RawSQLite(path: database, row: "floor")
        if let name = options.profile {
            try await SingleProcess(store: store, raw: raw, database: database).profile(
                name, seconds: options.seconds, operations: options.operations)
            return
        }

        let single = try await SingleProcess(store: store, raw: raw, database: database).measure(options)
        for (name, value) in single { report.figure(name, value) }
        singleRows(single, into: &report)

        try openRows(database, single, into: &report)
        try await scaling(database, into: &report)
        try await latency(database, folder: folder, into: &report)
        try await wal(database, into: &report)
        try await memory(database, into: &report)
        try await manyCircuits(store: store, raw: raw, database: database, into: &report)

        let total = Double(monotonicNanoseconds() - started) / 1e9
        report.figure("run.seconds", total)
        report.notes += [
            "Ratios compare figures measured side by side in the same run; absolute figures depend on the machine.",
            "Single-process figures are medians of \(options.rounds) rounds run round-robin after a warm-up.",
            "Success counts of a closed circuit are batched per process (1,000 successes or 1 s, or flush()); "
                + "failures and transitions are written at once.",
            "The WAL run lasts --wal-seconds (default 30 s).",
        ]

        print("")
        print(report.table())
        print("")
        let met = report.checks.filter { $0.required && $0.met }.count
        let required = report.checks.filter(\.required).count
        print("targets met: \(met) of \(required); whole run \(String(format: "%.0f", total)) s")
        for check in report.checks where !check.met {
            print("  not met: \(check.name) = \(String(format: "%.3f", check.value)) (target \(check.target))")
        }
        var machine = machine()
        machine["load_average_at_start"] = loadAtStart
        let json = try report.json(machine: machine, options: optionsDictionary())
        try json.write(to: URL(fileURLWithPath: options.jsonPath))
        print("figures written to \(options.jsonPath)")
        print("PostgreSQL store: not measured here (it needs a server); `make bench-postgres` runs its rows")
    }

    // MARK: Single process

    private func singleRows(_ figures: [String: Double], into report: inout Report) {
        let write = figures["floor.write_tx_ns"]!
        let read = figures["floor.read_ns"]!
        report.row("floor: BEGIN IMMEDIATE; SELECT; UPDATE; COMMIT", formatCost(write))
        report.row("floor: plain SELECT", formatCost(read))
        let floors = "write \(formatNanoseconds(write))"
        let readFloor = "read \(formatNanoseconds(read))"
        for (key, label) in [
            ("sqlite.execute_success_ns", "execute success, closed"),
            ("sqlite.two_step_success_ns", "acquire + record success, closed"),
        ] {
            let cost = figures[key]!
            report.check(
                "\(label): throughput vs write floor", key: "\(key).vs_write_floor_throughput", formatCost(cost),
                reference: floors, ratio: write / cost, atLeast: true, bound: 1.5)
            report.check(
                "\(label): throughput vs read floor", key: "\(key).vs_read_floor_throughput", formatCost(cost),
                reference: readFloor, ratio: read / cost, atLeast: true, bound: 0.4, required: false)
        }
        // What the design itself costs: a success is two plain reads (admit, then check before batching); a
        // failure is a plain read to admit and one write transaction.
        let success = figures["sqlite.execute_success_ns"]!
        report.figure("design_floor.success_ns", 2 * read)
        report.row(
            "execute success vs its design floor (2 plain SELECTs)", formatCost(success),
            reference: "2 × read \(formatNanoseconds(2 * read))",
            ratio: String(format: "%.2f× cost", success / (2 * read)))
        let viewed = figures["sqlite.execute_success_view_ns"]!
        report.row(
            "execute success, local view ≤ \(viewStaleness.milliseconds) ms old (maximumStaleness)", formatCost(viewed),
            reference: readFloor, ratio: String(format: "%.2f× throughput", read / viewed))
        let rejected = figures["sqlite.execute_rejected_open_ns"]!
        report.check(
            "execute rejected while open: throughput vs read floor", key: "sqlite.rejected.vs_read_floor_throughput",
            formatCost(rejected), reference: readFloor, ratio: read / rejected, atLeast: true, bound: 0.5)
        let failing = figures["sqlite.execute_failure_ns"]!
        report.check(
            "execute failing, threshold not reached: cost vs write floor", key: "sqlite.failure.vs_write_floor_cost",
            formatCost(failing), reference: floors, ratio: failing / write, atLeast: false, bound: 1.5)
        report.figure("design_floor.failure_ns", read + write)
        report.row(
            "execute failing vs its design floor (SELECT + write tx)", formatCost(failing),
            reference: "read + write \(formatNanoseconds(read + write))",
            ratio: String(format: "%.2f× cost", failing / (read + write)))
        let failingTwoStep = figures["sqlite.two_step_failure_ns"]!
        report.check(
            "acquire + record failure: cost vs write floor", key: "sqlite.two_step_failure.vs_write_floor_cost",
            formatCost(failingTwoStep), reference: floors, ratio: failingTwoStep / write, atLeast: false, bound: 1.5)
        for (key, label) in [
            ("memory.execute_success_ns", "in-memory store: execute success"),
            ("memory.execute_rejected_open_ns", "in-memory store: execute rejected (open)"),
            ("memory.execute_failure_ns", "in-memory store: execute failing"),
            ("memory.two_step_success_ns", "in-memory store: acquire + record success"),
        ] {
            report.row(label, formatCost(figures[key]!))
        }
    }

    private func openRows(_ database: String, _ figures: [String: Double], into report: inout Report) throws {
        // Cold: the first open in a fresh process (SQLite and the schema check start from nothing).
        var cold: [Double] = []
        var coldRaw: [Double] = []
        for _ in 0..<5 {
            for (kind, into) in [("open", 0), ("open-raw", 1)] {
                let worker = try WorkerProcess(arguments: ["--worker", kind, "--db", database])
                let nanoseconds = Double(try worker.result().openNanoseconds)
                if into == 0 { cold.append(nanoseconds) } else { coldRaw.append(nanoseconds) }
            }
        }
        report.figure("open.cold_ns", median(cold))
        report.figure("floor.open_cold_ns", median(coldRaw))
        report.row(
            "open a new database (create schema)", formatNanoseconds(report.value("open.create_new_file_ns")))
        report.row(
            "open store, cold (first open in a process)", formatNanoseconds(median(cold)),
            reference: "raw open + pragmas \(formatNanoseconds(median(coldRaw)))",
            ratio: String(format: "%.2f×", median(cold) / median(coldRaw)))
        let warm = figures["sqlite.open_warm_ns"]!
        let warmRaw = figures["floor.open_warm_ns"]!
        report.row(
            "open store, warm (open + close again)", formatNanoseconds(warm),
            reference: "raw open + pragmas \(formatNanoseconds(warmRaw))",
            ratio: String(format: "%.2f×", warm / warmRaw))
    }

    // MARK: Several processes

    private func scaling(_ database: String, into report: inout Report) async throws {
        let counts = [1, 2, 4, 8]
        var rates: [Int: [Double]] = [:]
        for _ in 0..<options.scalingRuns {
            for count in counts {
                let results = try await WorkerProcess.runTogether(count: count) { _ in
                    ["--worker", "healthy", "--db", database, "--seconds", "\(options.scalingSeconds)"]
                }
                let operations = results.reduce(0) { $0 + $1.operations }
                let seconds = results.map(\.seconds).max() ?? options.scalingSeconds
                rates[count, default: []].append(Double(operations) / seconds)
            }
        }
        let one = median(rates[1]!)
        for count in counts {
            let rate = median(rates[count]!)
            report.figure("processes.\(count).healthy_calls_per_second", rate)
            let label = "\(count) process\(count == 1 ? "" : "es"), one circuit, healthy: aggregate"
            if count == 4 {
                report.check(
                    label, key: "processes.4_vs_1_throughput", formatRate(rate),
                    reference: "1 process \(formatRate(one))",
                    ratio: rate / one, atLeast: true, bound: 1.0)
                if let pybreaker = PybreakerFigure.fourProcesses() {
                    // Not measured side by side: the Redis benchmark's last run, whenever that was; an aim only.
                    let when = ISO8601DateFormatter().string(from: pybreaker.measuredAt)
                    report.check(
                        "4 processes, one circuit, healthy vs pybreaker + Redis", key: "processes.4_vs_pybreaker",
                        formatRate(rate),
                        reference:
                            "pybreaker \(formatRate(pybreaker.callsPerSecond)) (\(PybreakerFigure.path), \(when))",
                        ratio: rate / pybreaker.callsPerSecond, atLeast: true, bound: 25, required: false)
                }
            } else if count == 1 {
                report.row(label, formatRate(rate))
            } else {
                report.row(label, formatRate(rate), reference: "1 process", ratio: String(format: "%.2f×", rate / one))
            }
        }
    }

    private func latency(_ database: String, folder: URL, into report: inout Report) async throws {
        let count = 4
        let paths = (0..<count).map { folder.appendingPathComponent("latency-\($0).bin").path }
        var largestWAL: Int64 = 0
        let results = try await WorkerProcess.runTogether(count: count) { index in
            [
                "--worker", "mixed", "--db", database, "--seconds", "\(options.latencySeconds)", "--fail-percent", "10",
                "--samples", paths[index],
            ]
        } whileRunning: {
            largestWAL = try await watchSize(of: database + "-wal", seconds: options.latencySeconds)
        }
        report.figure("latency.largest_wal_bytes", Double(largestWAL))
        let samples = try LatencySamples.collect(paths)
        let operations = results.reduce(0) { $0 + $1.operations }
        let failures = results.reduce(0) { $0 + $1.failures }
        let busy = results.reduce(UInt64(0)) { $0 + $1.busyWaitNanoseconds }
        let p50 = Double(percentile(samples, 0.5))
        let p99 = Double(percentile(samples, 0.99))
        let p999 = Double(percentile(samples, 0.999))
        let maximum = Double(samples.last ?? 0)
        report.figure("latency.calls", Double(operations))
        report.figure("latency.failure_fraction", Double(failures) / Double(max(1, operations)))
        report.figure("latency.calls_per_second", Double(operations) / options.latencySeconds)
        report.figure("latency.p50_ns", p50)
        report.figure("latency.p99_ns", p99)
        report.figure("latency.p999_ns", p999)
        report.figure("latency.max_ns", maximum)
        report.figure("latency.busy_wait_ns_total", Double(busy))
        report.figure("latency.busy_waits", Double(results.reduce(UInt64(0)) { $0 + $1.busyWaits }))
        let summary = "p50 \(formatNanoseconds(p50)), p99.9 \(formatNanoseconds(p999))"
        report.check(
            "4 processes, 10 % failing: p99 per call", key: "latency.p99_ms", formatNanoseconds(p99),
            reference: summary, ratio: p99 / 1e6, atLeast: false, bound: 1, unit: "ms")
        report.check(
            "4 processes, 10 % failing: max per call", key: "latency.max_ms", formatNanoseconds(maximum),
            reference: "\(operations) calls, \(formatRate(Double(operations) / options.latencySeconds))",
            ratio: maximum / 1e6, atLeast: false, bound: 50, unit: "ms")
    }

    private func wal(_ database: String, into report: inout Report) async throws {
        let walPath = database + "-wal"
        var largest: Int64 = 0
        let seconds = options.walSeconds
        let results = try await WorkerProcess.runTogether(count: 4) { _ in
            ["--worker", "writer", "--db", database, "--seconds", "\(seconds)"]
        } whileRunning: {
            largest = try await watchSize(of: walPath, seconds: seconds)
        }
        largest = max(largest, fileSize(walPath))
        let writes = results.reduce(0) { $0 + $1.operations }
        let mebibytes = Double(largest) / 1_048_576
        report.figure("wal.seconds", seconds)
        report.figure("wal.largest_bytes", Double(largest))
        report.figure("wal.writes", Double(writes))
        report.figure("wal.writes_per_second", Double(writes) / seconds)
        report.check(
            "WAL during a saturated 4-process write run (\(Int(seconds)) s)", key: "wal.largest_mib",
            String(format: "%.1f MiB", mebibytes),
            reference: "\(writes) write transactions", ratio: mebibytes, atLeast: false, bound: 64, unit: "MiB")
    }

    /// The largest size of a file, looked at every 5 ms for `seconds`.
    private func watchSize(of path: String, seconds: Double) async throws -> Int64 {
        var largest: Int64 = 0
        let deadline = monotonicNanoseconds() + UInt64(seconds * 1e9)
        while monotonicNanoseconds() < deadline {
            largest = max(largest, fileSize(path))
            try await Task.sleep(for: .milliseconds(5))
        }
        return largest
    }

    private func memory(_ database: String, into report: inout Report) async throws {
        let empty = try WorkerProcess(arguments: ["--worker", "empty"]).result()
        let worker = try WorkerProcess(
            arguments: ["--worker", "memory", "--db", database, "--circuits", "\(options.memoryCircuits)"]
        ).result()
        report.figure("rss.empty_process_peak_kib", Double(empty.peakKiB))
        report.figure("rss.worker_peak_kib", Double(worker.peakKiB))
        report.figure("rss.worker_circuits", Double(options.memoryCircuits))
        let extra = Double(worker.peakKiB - empty.peakKiB)
        report.row(
            "peak RSS, worker using \(options.memoryCircuits) circuits",
            String(format: "%.1f MiB", Double(worker.peakKiB) / 1024),
            reference: String(format: "empty Swift process %.1f MiB", Double(empty.peakKiB) / 1024),
            ratio: String(format: "+%.1f MiB", extra / 1024))
    }

    private func manyCircuits(
        store: SQLiteCircuitStore, raw: RawSQLite, database: String, into report: inout Report
    ) async throws {
        let few = report.value("sqlite.execute_success_10_circuits_ns")
        let now = wallMilliseconds()
        try RawSQLite.populate(path: database, prefix: "many/", count: options.manyCircuits, now: now)
        try RawSQLite.checkpoint(database)
        let cases = try await SingleProcess(store: store, raw: raw, database: database).manyCases(options)
        let hot = cases["sqlite.execute_success_10_circuits_big_file_ns"]!
        let spread = cases["sqlite.execute_success_spread_ns"]!
        for (name, value) in cases { report.figure(name, value) }
        report.check(
            "\(options.manyCircuits) circuits in the file vs 10: 10 busy circuits", key: "many_circuits.hot_cost_ratio",
            formatCost(hot), reference: "10 in the file \(formatNanoseconds(few))", ratio: hot / few, atLeast: false,
            bound: 1.3)
        report.row(
            "\(options.manyCircuits) circuits in the file, calls spread over all", formatCost(spread),
            reference: "10 in the file \(formatNanoseconds(few))", ratio: String(format: "%.2f×", spread / few))
    }

    // MARK: Context

    private func machine() -> [String: Any] {
        var info = machineDescription()
        info["sqlite_version"] = RawSQLite.version
        return info
    }

    private func optionsDictionary() -> [String: Any] {
        [
            "rounds": options.rounds, "sample_ms": options.sampleMilliseconds,
            "scaling_seconds": options.scalingSeconds,
            "scaling_runs": options.scalingRuns, "latency_seconds": options.latencySeconds,
            "wal_seconds": options.walSeconds, "many_circuits": options.manyCircuits,
            "memory_circuits": options.memoryCircuits,
        ]
    }
}
