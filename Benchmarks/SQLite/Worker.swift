import Circuitry
import CircuitryBenchmarkSupport
import Foundation
import Logging

/// The worker side of the multi-process cases: `circuitry-bench --worker KIND --db PATH …`.
enum Worker {
    static func run(_ kind: String, _ options: Options) async throws {
        switch kind {
        case "empty":
            // An empty Swift process: the same binary, having done nothing.
            let rss = residentSetKiB()
            report(WorkerResult(peakKiB: rss.peak, currentKiB: rss.current))
        case "open":
            let start = monotonicNanoseconds()
            let store = try SQLiteCircuitStore(path: options.database)
            let elapsed = monotonicNanoseconds() - start
            store.close()
            report(WorkerResult(openNanoseconds: elapsed))
        case "open-raw":
            let start = monotonicNanoseconds()
            try RawSQLite.openAndClose(options.database)
            report(WorkerResult(openNanoseconds: monotonicNanoseconds() - start))
        case "memory":
            try await memory(options)
        case "healthy", "mixed", "writer":
            try await loop(kind, options)
        default:
            throw BenchmarkFailure(description: "unknown worker \(kind)")
        }
    }

    private static func report(_ result: WorkerResult) {
        let data = try! JSONEncoder().encode(result)
        emit(String(decoding: data, as: UTF8.self))
    }

    /// Calls one shared circuit as fast as it can for `--seconds` after the barrier.
    ///
    /// - `healthy`: every call succeeds (a plain read to admit, a plain read and a batched count to record).
    /// - `mixed`: `--fail-percent` of the calls fail (threshold never reached); each call's latency is written
    ///   to `--samples` as native 64-bit nanoseconds.
    /// - `writer`: every call fails (threshold never reached), so every call is a write transaction.
    private static func loop(_ kind: String, _ options: Options) async throws {
        let store = try SQLiteCircuitStore(path: options.database)
        defer { store.close() }
        let settings = kind == "healthy" ? BreakerSettings() : neverTrips
        let factory = try BreakerFactory(
            store: store, configuration: BreakerFactory.Configuration(settings: settings), logger: quietLogger)
        let breaker = try factory.breaker(for: kind)
        let failPercent = kind == "writer" ? 100 : kind == "healthy" ? 0 : options.failPercent
        let recordSamples = kind == "mixed" && !options.samplesPath.isEmpty
        var random = SplitMix(state: UInt64(getpid()) &* 0x2545_F491_4F6C_DD1D)

        func call() async -> Bool {
            let fails = Int(random.next() % 100) < failPercent
            do {
                try await breaker.execute { if fails { throw Boom() } }
            } catch {}
            return fails
        }
        // Warm-up: connection cache, branch predictors, the batcher's table.
        for _ in 0..<2000 { _ = await call() }
        try waitForGo()

        let loop = await CallLoop.run(
            seconds: options.seconds, recordSamples: recordSamples, expectedCalls: Int(options.seconds * 400_000),
            call)
        try await factory.flush()
        if recordSamples { try LatencySamples.write(loop.samples, to: options.samplesPath) }
        let waits = store.busyWaits
        let rss = residentSetKiB()
        report(
            WorkerResult(
                operations: loop.operations, seconds: loop.seconds, failures: loop.failures, peakKiB: rss.peak,
                currentKiB: rss.current,
                busyWaitNanoseconds: UInt64(waits.total.components.seconds) * 1_000_000_000
                    + UInt64(waits.total.components.attoseconds / 1_000_000_000),
                busyWaits: waits.count))
    }

    /// A worker that uses `--circuits` circuits (`memory/0` …, one base name and a tenant each): one failing call each (a stored row) and three successes each
    /// (batched, then flushed); reports its peak RSS.
    private static func memory(_ options: Options) async throws {
        let store = try SQLiteCircuitStore(path: options.database)
        defer { store.close() }
        let factory = try BreakerFactory(
            store: store, configuration: tenantConfiguration(neverTrips), logger: quietLogger)
        for index in 0..<options.circuits {
            let breaker = try factory.breaker(for: "memory", context: ["tenant": "\(index)"])
            do { try await breaker.execute { throw Boom() } } catch {}
            for _ in 0..<3 { try await breaker.execute {} }
        }
        try await factory.flush()
        let rss = residentSetKiB()
        report(WorkerResult(operations: options.circuits * 4, peakKiB: rss.peak, currentKiB: rss.current))
    }
}
