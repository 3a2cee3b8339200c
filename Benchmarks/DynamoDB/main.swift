// `circuitry-bench-dynamodb`: the DynamoDB store's cost per call, in requests (what AWS bills) beside timings,
// against a local DynamoDB-compatible server. Built only with the `DynamoDB` trait; without it, it does nothing.
#if DynamoDB
import Circuitry
import CircuitryBenchmarkSupport
import CircuitryDynamoDB
import CircuitryDynamoDBTestSupport
import Foundation

/// The command line, parsed by hand (a handful of `--name value` flags).
struct Options {
    /// An endpoint to use instead of a throw-away moto server (DynamoDB Local, LocalStack, …).
    var endpoint: String?
    var jsonPath = "bench-results-dynamodb.json"
    var rounds = 5
    var sampleMilliseconds = 300
    /// Failures each racing store writes in the contention runs.
    var contendedWrites = 30

    static let usage = """
        usage: circuitry-bench-dynamodb [--endpoint URL] [--json PATH] [--rounds N] [--sample-ms N]
                                        [--contended-writes N]
        Measures the DynamoDB store per call, in requests and in time, beside the SQLite store, and conflicts when
        1, 2, 4 and 8 stores write one circuit at once. Without --endpoint it starts a throw-away moto server
        (pip install 'moto[server]'). A local server's latency is not AWS's: the requests per call are what
        carries over, since AWS bills per request.
        """

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var arguments = Arguments(arguments)
        while let flag = arguments.next() {
            switch flag {
            case "--endpoint": options.endpoint = try arguments.value(flag)
            case "--json": options.jsonPath = try arguments.value(flag)
            case "--rounds": options.rounds = max(1, try arguments.number(flag))
            case "--sample-ms": options.sampleMilliseconds = max(1, try arguments.number(flag))
            case "--contended-writes": options.contendedWrites = max(1, try arguments.number(flag))
            case "-h", "--help": throw BenchmarkFailure(description: usage)
            default: throw BenchmarkFailure(description: "unknown argument \(flag)\n\(usage)")
            }
        }
        return options
    }
}

/// Runs every case and prints the table.
struct Benchmark {
    let options: Options
    let endpoint: String
    let table = "circuitry-bench-\(getpid())"

    func store(configure: (inout DynamoDBCircuitStore.Configuration) -> Void = { _ in }) throws
        -> DynamoDBCircuitStore
    {
        var configuration = DynamoDBCircuitStore.Configuration(
            table: table, region: "us-east-1", endpoint: URL(string: endpoint))
        configuration.createTableIfMissing = true
        if ProcessInfo.processInfo.environment["AWS_ACCESS_KEY_ID"] == nil {
            configuration.credentials = .fixed(AWSCredentials(accessKeyID: "bench", secretAccessKey: "bench"))
        }
        configure(&configuration)
        return try DynamoDBCircuitStore(configuration: configuration, logger: quietLogger)
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "circuitry-bench-dynamodb-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let loadAtStart = loadAverage()
        let started = monotonicNanoseconds()
        let dynamo = try store()
        try await dynamo.prepare()
        let sqlite = try SQLiteCircuitStore(path: folder.appendingPathComponent("bench.sqlite").path)
        defer { sqlite.close() }
        var report = Report()

        let dynamoCases = try await breakerCases(prefix: "dynamodb", store: dynamo) + [try await tripCycle(dynamo)]
        let cases = dynamoCases + (try await breakerCases(prefix: "sqlite", store: sqlite))
        let samples = try await RoundRobin(
            cases: cases, sampleNanoseconds: UInt64(options.sampleMilliseconds) * 1_000_000, rounds: options.rounds
        ).run()
        let figures = samples.mapValues(median)
        for (name, value) in figures.sorted(by: { $0.key < $1.key }) { report.figure(name, value) }

        // Requests per call: each DynamoDB case again, counted.
        for timed in dynamoCases {
            let calls = 40
            let before = dynamo.statistics
            try await timed.run(calls)
            let key = String(timed.name.dropFirst("dynamodb.".count).dropLast("_ns".count))
            var perCall: [String] = []
            for (operation, count) in dynamo.statistics.sorted(by: { $0.key < $1.key }) {
                let delta = Double(count - (before[operation] ?? 0)) / Double(calls)
                guard delta > 0 else { continue }
                report.figure("requests_per_call.\(key).\(operation)", delta)
                perCall.append(String(format: "%@ %.2f", operation, delta))
            }
            let sqliteFigure = figures["sqlite.\(key)_ns"].map { "SQLite \(formatCost($0))" } ?? ""
            report.row(
                "\(key): \(perCall.joined(separator: ", "))", formatCost(figures[timed.name]!),
                reference: sqliteFigure)
        }
        try await contention(into: &report)

        let total = Double(monotonicNanoseconds() - started) / 1e9
        report.figure("run.seconds", total)
        report.notes += [
            "Against \(endpoint): a local emulator's latency is not AWS's (single-digit milliseconds within a "
                + "region); what carries over is the requests per call, which is what AWS bills.",
            "Times are medians of \(options.rounds) rounds, DynamoDB and SQLite cases alternating.",
            "trip_cycle: a reset and a failure that opens the circuit again, two state changes per cycle. moto "
                + "copies the whole table for each transaction, so its time grows with the table; DynamoDB's does not.",
            "Contention: N stores (each with its own in-process queue, as N processes) write failures to one "
                + "circuit at once; a conflict is an update run again because another store wrote first.",
        ]
        print("")
        print(report.table())
        print("")
        var machine = machineDescription()
        machine["load_average_at_start"] = loadAtStart
        let json = try report.json(
            machine: machine,
            options: ["endpoint": endpoint, "rounds": options.rounds, "sample_ms": options.sampleMilliseconds])
        try json.write(to: URL(fileURLWithPath: options.jsonPath))
        print(String(format: "whole run %.0f s; figures written to %@", total, options.jsonPath))
    }

    /// A reset and a failure that trips the circuit: two state changes, each a transaction with history.
    private func tripCycle(_ store: DynamoDBCircuitStore) async throws -> TimedCase {
        let breakers = try BreakerFactory(
            store: store,
            configuration: BreakerFactory.Configuration(settings: BreakerSettings(failureThreshold: 1)),
            logger: quietLogger)
        let breaker = try breakers.breaker(for: "tripping")
        return TimedCase(name: "dynamodb.trip_cycle_ns") { count in
            for _ in 0..<count {
                try await breakers.reset("tripping")
                do { try await breaker.execute { throw Boom() } } catch is Boom {}
            }
        }
    }

    /// N stores failing one circuit at once: conflicts per write, and the wall time.
    private func contention(into report: inout Report) async throws {
        for count in [1, 2, 4, 8] {
            let stores = try (0..<count).map { _ in try store { $0.operationTimeout = .seconds(30) } }
            let name = "contended-\(count)"
            let writes = options.contendedWrites
            let started = monotonicNanoseconds()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores {
                    group.addTask {
                        for _ in 0..<writes {
                            try await store.update(name) { record, now in
                                var current = record ?? CircuitRecord(name: name, createdAt: now)
                                current.counts.failures += 1
                                record = current
                                return StoreUpdate(value: (), write: true)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = Double(monotonicNanoseconds() - started) / 1e9
            let conflicts = stores.reduce(0) { $0 + ($1.statistics["conflict"] ?? 0) }
            let most = stores.map { $0.statistics["conflicts.max"] ?? 0 }.max() ?? 0
            let total = count * writes
            let stored = try await stores[0].read(name).record?.counts.failures ?? 0
            guard stored == Int64(total) else {
                throw BenchmarkFailure(description: "\(count) stores: \(stored) of \(total) failures stored")
            }
            report.figure("contention.\(count).conflicts_per_write", Double(conflicts) / Double(total))
            report.figure("contention.\(count).writes_per_second", Double(total) / seconds)
            report.figure("contention.\(count).most_conflicts_of_one_update", Double(most))
            report.row(
                "\(count) store\(count == 1 ? "" : "s") × \(writes) failures on one circuit",
                String(format: "%.2f conflicts/write, at most %d", Double(conflicts) / Double(total), most),
                reference: formatRate(Double(total) / seconds) + " writes")
        }
    }
}

do {
    let options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
    #if DEBUG
    print("note: a debug build; the figures are dominated by the server's latency either way")
    #endif
    var server: TestMotoServer?
    if options.endpoint == nil {
        print("starting a throw-away moto server…")
        server = try await TestMotoServer()
    }
    defer { server?.stop() }
    let endpoint = options.endpoint ?? server!.endpoint
    try await Benchmark(options: options, endpoint: endpoint).run()
} catch {
    FileHandle.standardError.write(Data("circuitry-bench-dynamodb: \(error)\n".utf8))
    exit(1)
}
#endif
