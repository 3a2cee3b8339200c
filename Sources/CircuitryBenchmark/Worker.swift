import Circuitry
import Foundation
import Logging

/// The failure the benchmark's failing calls throw.
struct Boom: Error {}

/// A logger that prints nothing below error: the benchmark measures the breaker, not the log handler.
let quietLogger: Logger = {
    var logger = Logger(label: "circuitry-bench")
    logger.logLevel = .error
    return logger
}()

/// A configuration that names circuits `base/tenant`, as a job queue does (the documented naming function).
func tenantConfiguration(_ settings: BreakerSettings = BreakerSettings()) -> BreakerFactory.Configuration {
    var configuration = BreakerFactory.Configuration(settings: settings)
    configuration.naming = { base, context in "\(base)/\(context["tenant"] ?? "-")" }
    return configuration
}

/// Settings under which failures never open the circuit: every failure is a write and nothing else changes.
let neverTrips = BreakerSettings(failureThreshold: Int.max)

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
            throw Options.Invalid(description: "unknown worker \(kind)")
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
        var samples: [UInt64] = []
        if recordSamples { samples.reserveCapacity(Int(options.seconds * 400_000)) }

        func call(_ fails: Bool) async {
            do {
                try await breaker.execute { if fails { throw Boom() } }
            } catch {}
        }
        // Warm-up: connection cache, branch predictors, the batcher's table.
        for _ in 0..<2000 { await call(Int(random.next() % 100) < failPercent) }
        emit("ready")
        guard Swift.readLine() == "go" else { return }

        let deadline = monotonicNanoseconds() + UInt64(options.seconds * 1e9)
        let start = monotonicNanoseconds()
        var operations = 0
        var failures = 0
        var now = start
        while now < deadline {
            let fails = Int(random.next() % 100) < failPercent
            if fails { failures += 1 }
            await call(fails)
            operations += 1
            let after = monotonicNanoseconds()
            if recordSamples { samples.append(after - now) }
            now = after
        }
        let seconds = Double(now - start) / 1e9
        try await factory.flush()
        if recordSamples {
            let data = samples.withUnsafeBytes { Data($0) }
            try data.write(to: URL(fileURLWithPath: options.samplesPath))
        }
        let waits = store.busyWaits
        let rss = residentSetKiB()
        report(
            WorkerResult(
                operations: operations, seconds: seconds, failures: failures, peakKiB: rss.peak,
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
