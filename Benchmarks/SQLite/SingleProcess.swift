import Circuitry
import CircuitryBenchmarkSupport
import Synchronization

/// The single-process cases: the raw floors, Circuitry on SQLite and Circuitry on the in-memory store, measured
/// round-robin in one process on one database.
struct SingleProcess: Sendable {
    let store: SQLiteCircuitStore
    let raw: RawSQLite
    let database: String

    /// Figures in nanoseconds per operation (the median of the rounds), keyed `floor.…`, `sqlite.…`, `memory.…`.
    func measure(_ options: Options) async throws -> [String: Double] {
        let (cases, factory) = try await cases()
        let samples = try await RoundRobin(
            cases: cases, sampleNanoseconds: UInt64(options.sampleMilliseconds) * 1_000_000, rounds: options.rounds
        ).run()
        try await factory.flush()
        return samples.mapValues(median)
    }

    /// Runs one case alone for `seconds`, or for exactly `operations` operations when given, for a profiler
    /// (`circuitry-bench --profile NAME`). A fixed count makes instruction counts comparable: run it with two counts
    /// and divide the difference by the difference of the counts (`Benchmarks/instructions.sh`).
    func profile(_ name: String, seconds: Double, operations fixed: Int?) async throws {
        let (cases, factory) = try await cases()
        guard let timed = cases.first(where: { $0.name == name }) else {
            throw BenchmarkFailure(description: "no case \(name); cases: \(cases.map(\.name).joined(separator: ", "))")
        }
        var operations = 0
        if let fixed {
            try await timed.run(fixed)
            operations = fixed
        } else {
            let deadline = monotonicNanoseconds() + UInt64(seconds * 1e9)
            while monotonicNanoseconds() < deadline {
                try await timed.run(1000)
                operations += 1000
            }
        }
        try await factory.flush()
        print("\(name): \(operations) operations")
    }

    private func cases() async throws -> ([TimedCase], BreakerFactory) {
        let memoryStore = InMemoryCircuitStore()
        var cases = [
            TimedCase(name: "floor.write_tx_ns") { [raw] count in
                let now = wallMilliseconds()
                for _ in 0..<count { try raw.writeTransaction(now: now) }
            },
            TimedCase(name: "floor.read_ns") { [raw] count in
                for _ in 0..<count { try raw.read() }
            },
            TimedCase(name: "floor.open_warm_ns") { [database] count in
                for _ in 0..<count { try RawSQLite.openAndClose(database) }
            },
            TimedCase(name: "sqlite.open_warm_ns") { [database] count in
                for _ in 0..<count { try SQLiteCircuitStore(path: database).close() }
            },
        ]
        cases += try await breakerCases(prefix: "sqlite", store: store)
        cases += try await breakerCases(prefix: "memory", store: memoryStore)

        // Ten circuits, a breaker made per call as a job queue does (naming and name check included).
        let factory = try BreakerFactory(store: store, configuration: tenantConfiguration(), logger: quietLogger)
        cases.append(spreadCase("sqlite.execute_success_10_circuits_ns", factory, base: "few", circuits: 10))
        return (cases, factory)
    }

    /// The same ten circuits, and calls spread over every circuit, once the file holds `options.manyCircuits`.
    func manyCases(_ options: Options) async throws -> [String: Double] {
        let factory = try BreakerFactory(store: store, configuration: tenantConfiguration(), logger: quietLogger)
        let cases = [
            TimedCase(name: "floor.read_big_file_ns") { [raw] count in
                for _ in 0..<count { try raw.read() }
            },
            spreadCase("sqlite.execute_success_10_circuits_big_file_ns", factory, base: "few", circuits: 10),
            spreadCase("sqlite.execute_success_spread_ns", factory, base: "many", circuits: options.manyCircuits),
        ]
        let samples = try await RoundRobin(
            cases: cases, sampleNanoseconds: UInt64(options.sampleMilliseconds) * 1_000_000, rounds: options.rounds
        ).run()
        try await factory.flush()
        return samples.mapValues(median)
    }

    /// Calls circuits `base/0` … `base/(circuits - 1)` at random, making the breaker per call from a tenant context
    /// as a job queue does (naming function and name check included).
    private func spreadCase(_ name: String, _ factory: BreakerFactory, base: String, circuits: Int) -> TimedCase {
        let tenants = (0..<circuits).map { "\($0)" }
        let random = Mutex(SplitMix(state: 42))
        return TimedCase(name: name) { count in
            for _ in 0..<count {
                let index = random.withLock { Int($0.next() % UInt64(tenants.count)) }
                try await factory.breaker(for: base, context: ["tenant": tenants[index]]).execute {}
            }
        }
    }
}
