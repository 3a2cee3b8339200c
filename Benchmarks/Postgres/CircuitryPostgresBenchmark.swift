#if Postgres

import Circuitry
import CircuitryBenchmarkSupport
import CircuitryPostgres
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct CircuitryPostgresBenchmark {
    static func main() async {
        do {
            let options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
            if let worker = options.worker {
                try await Worker.run(worker, options)
            } else {
                try await Coordinator(options: options).run()
            }
        } catch {
            FileHandle.standardError.write(Data("circuitry-bench-postgres: \(error)\n".utf8))
            exit(1)
        }
    }
}

/// Runs every case on one throw-away schema of the server and one temporary SQLite file, prints the table and
/// writes the JSON file.
struct Coordinator {
    let options: Options

    /// The worker process counts of the scaling runs.
    private let counts = [1, 2, 4, 8]

    func run() async throws {
        guard let url = options.url else {
            throw BenchmarkFailure(
                description: "no server: give --postgres URL or set CIRCUITRY_POSTGRES_URL "
                    + "(`make bench-postgres` starts a throw-away PostgreSQL 15)")
        }
        #if DEBUG
        print("warning: this is a debug build; run `make bench-postgres` (release) for figures worth quoting")
        #endif
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "circuitry-bench-postgres-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("bench.sqlite").path
        var configuration = try PostgresCircuitStore.Configuration(url: url)
        // A schema of its own, dropped at the end, so that the run neither sees nor leaves circuits.
        configuration.schema = "circuitry_bench_\(getpid())"
        print("PostgreSQL store at \(configuration.location); SQLite store at \(database)")

        let started = monotonicNanoseconds()
        let loadAtStart = loadAverage()
        var report = Report()
        let sqlite = try SQLiteCircuitStore(path: database)
        defer { sqlite.close() }
        var server: [String: String] = [:]
        try await PostgresCircuitStore.withStore(configuration: configuration, logger: quietLogger) { store in
            try await RawPostgres.with(configuration, row: "floor") { raw in
                do {
                    server["version"] = try await raw.text("SELECT version()")
                    server["fsync"] = try await raw.text("SHOW fsync")
                    server["synchronous_commit"] = try await raw.text("SHOW synchronous_commit")
                    let single = try await singleProcess(raw: raw, store: store, sqlite: sqlite)
                    for (name, value) in single.sorted(by: { $0.key < $1.key }) { report.figure(name, value) }
                    singleRows(single, into: &report)
                    try await scaling(url: url, schema: configuration.schema, folder: folder, into: &report)
                } catch {
                    try? await raw.dropSchema(configuration.schema)
                    throw error
                }
                try await raw.dropSchema(configuration.schema)
            }
        }

        let total = Double(monotonicNanoseconds() - started) / 1e9
        report.figure("run.seconds", total)
        report.notes += [
            "Ratios compare figures measured side by side in the same run; absolute figures depend on the machine.",
            "Single-process figures are medians of \(options.rounds) rounds run round-robin after a warm-up; "
                + "PostgreSQL floors, Circuitry on PostgreSQL and Circuitry on SQLite alternate in every round.",
            "PostgreSQL floors: postgres-nio with the store's own pool settings; statements on one leased "
                + "connection, except the lease row, which leases a pooled connection per SELECT as the store does.",
            "Scaling: \(options.scalingRuns) runs of \(options.scalingSeconds) s per process count and store, "
                + "PostgreSQL and SQLite alternating; throughput is the median run, percentiles pool every call "
                + "of every run.",
            "The server's fsync is \(server["fsync"] ?? "?") and synchronous_commit "
                + "\(server["synchronous_commit"] ?? "?"): with fsync off, commits skip the disk flush, which "
                + "flatters the write floor and Circuitry's writes alike.",
        ]

        print("")
        print(report.table())
        print("")
        print(
            "server: \(server["version"] ?? "?"), fsync=\(server["fsync"] ?? "?"); whole run "
                + String(format: "%.0f s", total))
        var machine = machineDescription()
        machine["load_average_at_start"] = loadAtStart
        machine["postgres"] = server
        let json = try report.json(machine: machine, options: optionsDictionary())
        try json.write(to: URL(fileURLWithPath: options.jsonPath))
        print("figures written to \(options.jsonPath)")
    }

    // MARK: Single process

    /// The floors, Circuitry on PostgreSQL and Circuitry on SQLite, round-robin in one process.
    private func singleProcess(
        raw: RawPostgres, store: PostgresCircuitStore, sqlite: SQLiteCircuitStore
    ) async throws -> [String: Double] {
        var cases = [
            TimedCase(name: "pg_floor.read_ns") { try await raw.read($0) },
            TimedCase(name: "pg_floor.write_tx_ns") { try await raw.writeTransaction($0) },
            TimedCase(name: "pg_floor.lease_read_ns") { try await raw.leaseAndRead($0) },
        ]
        cases += try await breakerCases(prefix: "postgres", store: store)
        cases += try await breakerCases(prefix: "sqlite", store: sqlite)
        let samples = try await RoundRobin(
            cases: cases, sampleNanoseconds: UInt64(options.sampleMilliseconds) * 1_000_000, rounds: options.rounds
        ).run()
        return samples.mapValues(median)
    }

    private func singleRows(_ figures: [String: Double], into report: inout Report) {
        let read = figures["pg_floor.read_ns"]!
        let write = figures["pg_floor.write_tx_ns"]!
        let lease = figures["pg_floor.lease_read_ns"]!
        report.row("PG floor: SELECT one row (1 round trip)", formatCost(read))
        report.row("PG floor: BEGIN; SELECT … FOR UPDATE; UPDATE; COMMIT (4 round trips)", formatCost(write))
        report.row(
            "PG floor: lease a pooled connection + SELECT", formatCost(lease),
            reference: "read \(formatNanoseconds(read))",
            ratio: String(format: "%.2f× cost", lease / read))
        // What the design itself costs, as in `circuitry-bench`: a success is two plain reads (admit, then check
        // before batching), a rejection one read, a failure one read to admit and one write transaction.
        let twoReads = (2 * read, "2 × read \(formatNanoseconds(2 * read))")
        let oneRead = (read, "read \(formatNanoseconds(read))")
        let readWrite = (read + write, "read + write \(formatNanoseconds(read + write))")
        let cases = [
            ("execute success, closed", "execute_success_ns", twoReads),
            ("acquire + record success, closed", "two_step_success_ns", twoReads),
            ("execute rejected while open", "execute_rejected_open_ns", oneRead),
            ("execute failing, threshold not reached", "execute_failure_ns", readWrite),
            ("acquire + record failure", "two_step_failure_ns", readWrite),
        ]
        // With a local view (`maximumStaleness`), a healthy call asks the server about once per bound: no round trip.
        let viewed = figures["postgres.execute_success_view_ns"]!
        report.row(
            "PG execute success, closed, local view ≤ \(viewStaleness.milliseconds) ms old", formatCost(viewed),
            reference: "read \(formatNanoseconds(read))", ratio: String(format: "%.3f× cost", viewed / read))
        for (label, key, (floor, floorText)) in cases {
            let postgres = figures["postgres.\(key)"]!
            let sqlite = figures["sqlite.\(key)"]!
            report.figure("design_floor.postgres.\(key)", floor)
            report.row(
                "PG \(label) vs its design floor", formatCost(postgres), reference: floorText,
                ratio: String(format: "%.2f× cost", postgres / floor))
            report.row(
                "PG \(label) vs SQLite store", formatCost(postgres), reference: "SQLite \(formatCost(sqlite))",
                ratio: String(format: "%.1f× cost", postgres / sqlite))
        }
    }

    // MARK: Several processes

    /// Healthy traffic on one circuit from 1, 2, 4 and 8 worker processes, on PostgreSQL and on SQLite.
    private func scaling(url: String, schema: String, folder: URL, into report: inout Report) async throws {
        let database = folder.appendingPathComponent("bench.sqlite").path
        var rates: [String: [Int: [Double]]] = [:]
        var samples: [String: [Int: [UInt64]]] = [:]
        // PostgreSQL (asking the server on every call, then with a local view) and SQLite alternate, so that the
        // machine's noise falls on all three.
        let kinds = ["postgres", "postgres-view", "sqlite"]
        for run in 0..<options.scalingRuns {
            for count in counts {
                for kind in kinds {
                    let paths = (0..<count).map {
                        folder.appendingPathComponent("samples-\(kind)-\(count)-\(run)-\($0).bin").path
                    }
                    let results = try await WorkerProcess.runTogether(count: count) { index in
                        let target = kind == "sqlite" ? ["--db", database] : ["--postgres", url, "--schema", schema]
                        return ["--worker", kind, "--seconds", "\(options.scalingSeconds)", "--samples", paths[index]]
                            + target
                    }
                    let operations = results.reduce(0) { $0 + $1.operations }
                    let seconds = results.map(\.seconds).max() ?? options.scalingSeconds
                    rates[kind, default: [:]][count, default: []].append(Double(operations) / seconds)
                    samples[kind, default: [:]][count, default: []] += try LatencySamples.collect(paths)
                }
            }
        }
        let floorRate = 1e9 / report.value("design_floor.postgres.execute_success_ns")
        for kind in kinds {
            for count in counts {
                let sorted = samples[kind]![count]!.sorted()
                report.figure("processes.\(count).\(kind).healthy_calls_per_second", median(rates[kind]![count]!))
                report.figure("processes.\(count).\(kind).p50_ns", Double(percentile(sorted, 0.5)))
                report.figure("processes.\(count).\(kind).p99_ns", Double(percentile(sorted, 0.99)))
                report.figure("processes.\(count).\(kind).p999_ns", Double(percentile(sorted, 0.999)))
                report.figure("processes.\(count).\(kind).max_ns", Double(sorted.last ?? 0))
                report.figure("processes.\(count).\(kind).calls", Double(sorted.count))
            }
        }
        let one = report.value("processes.1.postgres.healthy_calls_per_second")
        for count in counts {
            let prefix = "PG \(count) process\(count == 1 ? "" : "es"), one circuit, healthy"
            let postgres = report.value("processes.\(count).postgres.healthy_calls_per_second")
            let sqlite = report.value("processes.\(count).sqlite.healthy_calls_per_second")
            if count == 1 {
                report.row(
                    "\(prefix): aggregate", formatRate(postgres), reference: "design floor \(formatRate(floorRate))",
                    ratio: String(format: "%.2f×", postgres / floorRate))
            } else {
                report.row(
                    "\(prefix): aggregate", formatRate(postgres), reference: "PG 1 process \(formatRate(one))",
                    ratio: String(format: "%.2f×", postgres / one))
            }
            report.row(
                "\(prefix): aggregate vs SQLite store", formatRate(postgres), reference: "SQLite \(formatRate(sqlite))",
                ratio: String(format: "%.3f×", postgres / sqlite))
            report.row(
                "\(prefix): per call p50 / p99 / max", percentiles("postgres", count, report),
                reference: "SQLite \(percentiles("sqlite", count, report))",
                ratio: String(
                    format: "p50 %.0f×",
                    report.value("processes.\(count).postgres.p50_ns")
                        / report.value("processes.\(count).sqlite.p50_ns")))
            let viewed = report.value("processes.\(count).postgres-view.healthy_calls_per_second")
            report.row(
                "\(prefix), local view ≤ \(viewStaleness.milliseconds) ms old: aggregate", formatRate(viewed),
                reference: "without \(formatRate(postgres))", ratio: String(format: "%.1f×", viewed / postgres))
            report.row(
                "\(prefix), local view ≤ \(viewStaleness.milliseconds) ms old: per call p50 / p99 / max",
                percentiles("postgres-view", count, report),
                reference: "without \(percentiles("postgres", count, report))")
        }
    }

    /// `310 µs / 1.20 ms / 8.00 ms`.
    private func percentiles(_ kind: String, _ count: Int, _ report: Report) -> String {
        ["p50", "p99", "max"].map { formatNanoseconds(report.value("processes.\(count).\(kind).\($0)_ns")) }
            .joined(separator: " / ")
    }

    // MARK: Context

    private func optionsDictionary() -> [String: Any] {
        [
            "rounds": options.rounds, "sample_ms": options.sampleMilliseconds,
            "scaling_seconds": options.scalingSeconds, "scaling_runs": options.scalingRuns,
        ]
    }
}

#endif
