#if Postgres

import Circuitry
import CircuitryBenchmarkSupport
import CircuitryPostgres
import Foundation

/// The worker side of the multi-process cases: `circuitry-bench-postgres --worker postgres|postgres-view|sqlite …`.
///
/// Each worker calls `execute {}` on one shared circuit as fast as it can for `--seconds` after the barrier, as
/// `circuitry-bench`'s `healthy` worker does, and writes each call's latency to `--samples`. `postgres-view` admits
/// from a local view at most ``viewStaleness`` old (`maximumStaleness`).
enum Worker {
    static func run(_ kind: String, _ options: Options) async throws {
        let result: WorkerResult
        switch kind {
        case "postgres", "postgres-view":
            guard let url = options.url else { throw BenchmarkFailure(description: "a worker without --postgres") }
            var configuration = try PostgresCircuitStore.Configuration(url: url)
            configuration.schema = options.schema
            result = try await PostgresCircuitStore.withStore(configuration: configuration, logger: quietLogger) {
                try await healthy($0, options, warmUp: 200, staleness: kind == "postgres-view" ? viewStaleness : nil)
            }
        case "sqlite":
            let store = try SQLiteCircuitStore(path: options.database)
            defer { store.close() }
            result = try await healthy(store, options, warmUp: 2000)
        default:
            throw BenchmarkFailure(description: "unknown worker \(kind)")
        }
        emit(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
    }

    private static func healthy(
        _ store: some CircuitStore, _ options: Options, warmUp: Int, staleness: Duration? = nil
    ) async throws -> WorkerResult {
        var configuration = BreakerFactory.Configuration()
        configuration.maximumStaleness = staleness
        let factory = try BreakerFactory(store: store, configuration: configuration, logger: quietLogger)
        let breaker = try factory.breaker(for: "healthy")
        // Warm-up: connections, the batcher's table.
        for _ in 0..<warmUp { try await breaker.execute {} }
        try waitForGo()
        let loop = try await CallLoop.run(
            seconds: options.seconds, recordSamples: true, expectedCalls: Int(options.seconds * 200_000)
        ) {
            try await breaker.execute {}
            return false
        }
        try await factory.flush()
        try LatencySamples.write(loop.samples, to: options.samplesPath)
        let rss = residentSetKiB()
        return WorkerResult(
            operations: loop.operations, seconds: loop.seconds, peakKiB: rss.peak, currentKiB: rss.current)
    }
}

#endif
