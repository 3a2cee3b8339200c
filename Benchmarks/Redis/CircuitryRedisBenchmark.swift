#if Redis

import Circuitry
import CircuitryBenchmarkSupport
import CircuitryRedis
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct CircuitryRedisBenchmark {
    static func main() async {
        do {
            let options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
            if let worker = options.worker {
                try await Worker.run(worker, options)
            } else {
                try await Coordinator(options: options).run()
            }
        } catch {
            FileHandle.standardError.write(Data("circuitry-bench-redis: \(error)\n".utf8))
            exit(1)
        }
    }
}

/// Runs every case against one server, Circuitry, pybreaker and the floor alternating, prints the table and writes
/// the JSON file.
struct Coordinator {
    let options: Options
    /// The worker process counts of the healthy runs; failing calls and rejections run at 1 and 4.
    private let counts = [1, 2, 4, 8]
    private let fewCounts = [1, 4]

    /// Who runs a case: Circuitry's worker, pybreaker's, the floor's, or one of the two compare-and-set mechanisms.
    private enum Side: String, CaseIterable {
        case circuitry, pybreaker, floor
        case script, watch
    }

    func run() async throws {
        guard let url = options.url else {
            throw BenchmarkFailure(
                description: "no server: give --redis URL or set CIRCUITRY_REDIS_URL "
                    + "(`make bench-redis` starts a throw-away redis-server)")
        }
        #if DEBUG
        print("warning: this is a debug build; run `make bench-redis` (release) for figures worth quoting")
        #endif
        let configuration = try RedisCircuitStore.Configuration(url: url)
        let prefix = "circuitry_bench_\(getpid())"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("circuitry-bench-redis-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let pybreakerVersion = try pythonVersion()
        print("Redis at \(configuration.location); Circuitry keys {\(prefix)}:…, pybreaker \(pybreakerVersion)")
        let server = try await serverInfo(configuration)

        let started = monotonicNanoseconds()
        let loadAtStart = loadAverage()
        var report = Report()
        var rates: [String: [Double]] = [:]
        var samples: [String: [UInt64]] = [:]
        var retries: [String: (retries: UInt64, operations: Int)] = [:]
        func measure(_ name: String, _ sides: [Side], _ counts: [Int], run: Int) async throws {
            for count in counts {
                for side in sides {
                    let key = "\(name).\(count).\(side)"
                    let paths = (0..<count).map { folder.appendingPathComponent("\(key)-\(run)-\($0).bin").path }
                    let results = try await WorkerProcess.runTogether(
                        count: count, executable: side == .pybreaker ? options.python : WorkerProcess.executablePath
                    ) { index in
                        workerArguments(side, name, url: url, prefix: prefix, run: run) + ["--samples", paths[index]]
                    }
                    let operations = results.reduce(0) { $0 + $1.operations }
                    let seconds = results.map(\.seconds).max() ?? options.seconds
                    rates[key, default: []].append(Double(operations) / seconds)
                    let retried = results.reduce(UInt64(0)) { $0 + $1.busyWaits }
                    retries[key] = (
                        (retries[key]?.retries ?? 0) + retried, (retries[key]?.operations ?? 0) + operations
                    )
                    samples[key, default: []] += try LatencySamples.collect(paths)
                }
            }
        }
        // Every side runs once per round, so that the machine's noise falls on all of them alike.
        for run in 0..<options.runs {
            try await measure("healthy", [.circuitry, .pybreaker, .floor], counts, run: run)
            try await measure("cas", [.script, .watch], [1, 4, 8], run: run)
            try await measure("failing", [.circuitry, .pybreaker], fewCounts, run: run)
            try await measure("rejected", [.circuitry, .pybreaker], fewCounts, run: run)
        }
        for key in rates.keys.sorted() {
            if let counted = retries[key], counted.operations > 0 {
                report.figure("\(key).retries_per_call", Double(counted.retries) / Double(counted.operations))
            }
            let sorted = samples[key]!.sorted()
            report.figure("\(key).calls_per_second", median(rates[key]!))
            report.figure("\(key).p50_ns", Double(percentile(sorted, 0.5)))
            report.figure("\(key).p99_ns", Double(percentile(sorted, 0.99)))
            report.figure("\(key).max_ns", Double(sorted.last ?? 0))
        }
        rows(into: &report)
        try await halfOpenCheck(url: url, prefix: prefix, into: &report)
        try await cleanUp(configuration, prefix: prefix)

        let total = Double(monotonicNanoseconds() - started) / 1e9
        report.figure("run.seconds", total)
        report.notes += [
            "Both breakers share one redis-server \(server["redis_version"] ?? "?") in the same run; each worker "
                + "process makes one call at a time for \(options.seconds) s after a common start, \(options.runs) "
                + "runs per case, Circuitry, pybreaker and the floor alternating. Throughput is the median run; "
                + "percentiles pool every call of every run.",
            "pybreaker \(pybreakerVersion) with CircuitRedisStorage (redis-py), namespace per run; Circuitry's "
                + "RedisCircuitStore with one connection per process. Settings as pybreaker's defaults where they "
                + "matter (5 failures, 60 s open) for healthy calls.",
            "The floor is the store's own client: GET then SET of one key (two round trips), what any breaker that "
                + "reads and writes shared state on every call pays at least. Circuitry's healthy call is two reads "
                + "(TIME + HGETALL pipelined, each one round trip), successes batched.",
            "Write if unchanged: N processes increment one key as fast as they can, each write checked against "
                + "the value read: by a Lua script after a GET (what the store does, on a shared connection), or by "
                + "WATCH + GET then MULTI/SET/EXEC (on a connection of its own); both two round trips, both retrying "
                + "after the same random wait.",
            "Ratios compare figures measured side by side in the same run; absolute figures depend on the machine "
                + "and its load (load average at start \(loadAtStart)).",
        ]
        print("")
        print(report.table())
        print("")
        print("whole run " + String(format: "%.0f s", total))
        var machine = machineDescription()
        machine["load_average_at_start"] = loadAtStart
        machine["redis"] = server
        machine["pybreaker"] = pybreakerVersion
        let json = try report.json(
            machine: machine, options: ["seconds": options.seconds, "runs": options.runs])
        try json.write(to: URL(fileURLWithPath: options.jsonPath))
        print("figures written to \(options.jsonPath)")
        if report.checks.contains(where: { $0.required && !$0.met }) {
            throw BenchmarkFailure(description: "a required target was not met (see the table)")
        }
    }

    private func workerArguments(_ side: Side, _ name: String, url: String, prefix: String, run: Int) -> [String] {
        switch side {
        case .pybreaker:
            [
                options.pybreakerWorker, "--redis", url, "--namespace", Self.namespace(name, run: run),
                "--kind", name, "--seconds", "\(options.seconds)", "--reset-timeout",
                "\(Double(options.resetMilliseconds) / 1000)",
            ]
        case .script, .watch:
            [
                "--worker", "cas", "--case", side.rawValue, "--redis", url, "--prefix", "\(prefix)_\(run)",
                "--seconds", "\(options.seconds)",
            ]
        case .circuitry, .floor:
            [
                "--worker", side.rawValue, "--case", side == .floor ? "getset" : name, "--redis", url,
                "--prefix", "\(prefix)_\(run)", "--seconds", "\(options.seconds)",
                "--reset-ms", "\(options.resetMilliseconds)",
            ]
        }
    }

    /// pybreaker's namespace for a case and run; the circuit opened by `open` is the one `halfopen` calls.
    private static func namespace(_ name: String, run: Int) -> String {
        "pybreaker_bench_\(getpid())_\(name == "open" ? "halfopen" : name)_\(run)"
    }

    // MARK: The table

    private func rows(into report: inout Report) {
        func value(_ key: String) -> Double { report.value(key) }
        func latency(_ key: String) -> String {
            "\(formatNanoseconds(value("\(key).p50_ns"))) / \(formatNanoseconds(value("\(key).p99_ns")))"
        }
        for count in counts {
            let label = "healthy, \(count) process\(count == 1 ? "" : "es")"
            let circuitry = value("healthy.\(count).circuitry.calls_per_second")
            let pybreaker = value("healthy.\(count).pybreaker.calls_per_second")
            let floor = value("healthy.\(count).floor.calls_per_second")
            if count == 4 {
                report.check(
                    "\(label): aggregate calls/s", key: "healthy_4_throughput_vs_pybreaker", formatRate(circuitry),
                    reference: "pybreaker \(formatRate(pybreaker))", ratio: circuitry / pybreaker, atLeast: true,
                    bound: 2)
                report.check(
                    "\(label): p99", key: "healthy_4_p99_vs_pybreaker",
                    formatNanoseconds(value("healthy.4.circuitry.p99_ns")),
                    reference: "pybreaker \(formatNanoseconds(value("healthy.4.pybreaker.p99_ns")))",
                    ratio: value("healthy.4.circuitry.p99_ns") / value("healthy.4.pybreaker.p99_ns"), atLeast: false,
                    bound: 1)
            } else {
                report.row(
                    "\(label): aggregate calls/s", formatRate(circuitry),
                    reference: "pybreaker \(formatRate(pybreaker))",
                    ratio: String(format: "%.2f×", circuitry / pybreaker))
            }
            report.row(
                "\(label): p50 / p99", latency("healthy.\(count).circuitry"),
                reference: "pybreaker \(latency("healthy.\(count).pybreaker"))",
                ratio: String(
                    format: "p99 %.2f×",
                    value("healthy.\(count).circuitry.p99_ns") / value("healthy.\(count).pybreaker.p99_ns")))
            report.row(
                "\(label): vs the GET + SET floor", formatRate(circuitry), reference: "floor \(formatRate(floor))",
                ratio: String(
                    format: "%.2f× (floor p50 / p99 %@)", circuitry / floor, latency("healthy.\(count).floor")))
        }
        for count in [1, 4, 8] {
            let script = "cas.\(count).script"
            let watch = "cas.\(count).watch"
            report.row(
                "write if unchanged, \(count) process\(count == 1 ? "" : "es") on one key: script vs WATCH/EXEC",
                String(
                    format: "script %@, %.2f retries/write, p99 %@", formatRate(value("\(script).calls_per_second")),
                    value("\(script).retries_per_call"), formatNanoseconds(value("\(script).p99_ns"))),
                reference: String(
                    format: "WATCH %@, %.2f retries/write, p99 %@", formatRate(value("\(watch).calls_per_second")),
                    value("\(watch).retries_per_call"), formatNanoseconds(value("\(watch).p99_ns"))),
                ratio: String(
                    format: "%.2f×", value("\(script).calls_per_second") / value("\(watch).calls_per_second")))
        }
        for name in ["failing", "rejected"] {
            for count in fewCounts {
                let key = "\(name).\(count)"
                let circuitry = value("\(key).circuitry.calls_per_second")
                let pybreaker = value("\(key).pybreaker.calls_per_second")
                report.row(
                    "\(name == "failing" ? "failing calls" : "rejected while open"), \(count) process"
                        + (count == 1 ? "" : "es") + ": calls/s, p50 / p99",
                    "\(formatRate(circuitry)), \(latency("\(key).circuitry"))",
                    reference: "pybreaker \(formatRate(pybreaker)), \(latency("\(key).pybreaker"))",
                    ratio: String(format: "%.2f×", circuitry / pybreaker))
            }
        }
    }

    // MARK: The half-open budget

    /// 8 processes call at once through a circuit whose open period has just ended: how many trial calls run. Both
    /// breakers allow one (Circuitry: closeThreshold 1; pybreaker: "the next call").
    private func halfOpenCheck(url: String, prefix: String, into report: inout Report) async throws {
        var trials: [Side: Int] = [:]
        for side in [Side.circuitry, .pybreaker] {
            let arguments = { (name: String) -> [String] in
                workerArguments(side, name, url: url, prefix: prefix, run: 99)
            }
            let executable = side == .pybreaker ? options.python : WorkerProcess.executablePath
            // The circuit is opened first; the 8 processes connect, and are released together once its open period
            // has passed.
            _ = try await WorkerProcess.runTogether(count: 1, executable: executable) { _ in arguments("open") }
            let halfOpenAt = ContinuousClock.now + .milliseconds(options.resetMilliseconds)
            var workers: [WorkerProcess] = []
            defer { for worker in workers { worker.stop() } }
            for _ in 0..<8 {
                workers.append(try WorkerProcess(executable: executable, arguments: arguments("halfopen")))
            }
            for worker in workers { try worker.waitUntilReady() }
            try await Task.sleep(until: halfOpenAt + .milliseconds(200))
            for worker in workers { worker.go() }
            let results = try workers.map { try $0.result() }
            trials[side] = results.reduce(0) { $0 + $1.operations }
        }
        let circuitry = trials[.circuitry] ?? -1
        let pybreaker = trials[.pybreaker] ?? -1
        report.figure("halfopen.8.circuitry.trials", Double(circuitry))
        report.figure("halfopen.8.pybreaker.trials", Double(pybreaker))
        report.row(
            "half-open, 8 processes at once: trial calls run (budget 1)", "\(circuitry)",
            reference: "pybreaker \(pybreaker)")
    }

    // MARK: The server

    private func pythonVersion() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: options.python)
        process.arguments = ["-c", "import importlib.metadata as m; print(m.version('pybreaker'))"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchmarkFailure(
                description:
                    "\(options.python) has no pybreaker (make bench-redis installs it into .build/pybreaker-venv)")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `INFO server` as a dictionary, for the notes and the JSON.
    private func serverInfo(_ configuration: RedisCircuitStore.Configuration) async throws -> [String: String] {
        let pool = RedisConnectionPool(endpoint: try RedisCircuitStore.endpoint(configuration), size: 1)
        defer { Task { await pool.close() } }
        let reply = try await pool.send([["INFO", "server"]], deadline: .now() + .seconds(5))[0]
        var info: [String: String] = [:]
        for line in (reply.string ?? "").split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, ["redis_version", "os", "arch_bits"].contains(String(parts[0])) {
                info[String(parts[0])] = String(parts[1])
            }
        }
        return info
    }

    /// Removes the keys the run wrote (Circuitry's prefixes and pybreaker's namespaces), without `KEYS`: their names
    /// are known.
    private func cleanUp(_ configuration: RedisCircuitStore.Configuration, prefix: String) async throws {
        let pool = RedisConnectionPool(endpoint: try RedisCircuitStore.endpoint(configuration), size: 1)
        var keys: [String] = []
        let circuits = ["healthy", "failing", "rejected", "halfopen"]
        for tag in (0..<options.runs).map({ "\(prefix)_\($0)" }) + ["\(prefix)_99"] {
            keys += ["meta", "circuits", "log", "sequence", "versions", "floor", "cas"].map { "{\(tag)}:\($0)" }
            keys += circuits.flatMap { ["{\(tag)}:circuit:\($0)", "{\(tag)}:history:\($0)", "{\(tag)}:turn:\($0)"] }
        }
        for name in circuits {
            for run in Array(0..<options.runs) + [99] {
                let namespace = Self.namespace(name, run: run)
                keys += ["fail_counter", "success_counter", "state", "opened_at"].map { "\(namespace):pybreaker:\($0)" }
            }
        }
        // Keys of different prefixes are in different slots: one DEL each, pipelined.
        _ = try await pool.send(keys.map { ["DEL", $0] }, deadline: .now() + .seconds(10))
        await pool.close()
    }
}

#endif
