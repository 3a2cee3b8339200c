#if Redis

import Circuitry
import CircuitryBenchmarkSupport
import CircuitryRedis
import Foundation
import NIOCore
import Synchronization

/// The worker side: `circuitry-bench-redis --worker circuitry|floor --case … --prefix P`, the same protocol as the
/// pybreaker worker (`ready`, `go`, one line of JSON), one call at a time on one connection.
enum Worker {
    static func run(_ kind: String, _ options: Options) async throws {
        guard let url = options.url else { throw BenchmarkFailure(description: "a worker without --redis") }
        var configuration = try RedisCircuitStore.Configuration(url: url)
        configuration.keyPrefix = options.prefix
        configuration.maximumConnections = 1
        let result: WorkerResult
        switch kind {
        case "circuitry":
            result = try await RedisCircuitStore.withStore(configuration: configuration, logger: quietLogger) {
                try await circuitry(options.workerCase, store: $0, options)
            }
        case "floor":
            result = try await floor(options.workerCase, configuration, options)
        case "cas":
            result = try await compareAndSet(options.workerCase, configuration, options)
        default:
            throw BenchmarkFailure(description: "unknown worker \(kind)")
        }
        emit(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
    }

    /// Settings like pybreaker's in each case: its defaults (5 failures, 60 s) for healthy calls; never opening for
    /// failing ones; open for an hour for rejections; one failure and one trial for the half-open check.
    private static func settings(_ name: String, _ options: Options) -> BreakerSettings {
        switch name {
        case "failing": neverTrips
        case "rejected": BreakerSettings(failureThreshold: 1, openDuration: .seconds(3600))
        case "open", "halfopen":
            BreakerSettings(
                failureThreshold: 1, closeThreshold: 1, openDuration: .milliseconds(options.resetMilliseconds),
                probeTimeout: .seconds(30))
        default: BreakerSettings(failureThreshold: 5, openDuration: .seconds(60))
        }
    }

    private static func circuitry(_ name: String, store: RedisCircuitStore, _ options: Options) async throws
        -> WorkerResult
    {
        let factory = try BreakerFactory(
            store: store, configuration: BreakerFactory.Configuration(settings: settings(name, options)),
            logger: quietLogger)
        let breaker = try factory.breaker(for: name == "open" ? "halfopen" : name)
        switch name {
        case "healthy":
            for _ in 0..<200 { try await breaker.execute {} }
        case "rejected":
            while try await breaker.state() != .open {
                do { try await breaker.execute { throw Boom() } } catch {}
            }
        default:
            break
        }
        try waitForGo()
        if name == "open" || name == "halfopen" {
            let ran = Counter()
            do {
                try await breaker.execute {
                    if name == "open" { throw Boom() }
                    ran.increment()
                    try await Task.sleep(for: .milliseconds(50))
                }
            } catch {}
            return WorkerResult(operations: ran.value)
        }
        let loop = try await CallLoop.run(
            seconds: options.seconds, recordSamples: true, expectedCalls: Int(options.seconds * 50_000)
        ) {
            do {
                if name == "failing" {
                    try await breaker.execute { throw Boom() }
                } else {
                    try await breaker.execute {}
                }
                return false
            } catch is Boom {
                return true
            } catch is CircuitRejected {
                return true
            }
        }
        try await factory.flush()
        try LatencySamples.write(loop.samples, to: options.samplesPath)
        return WorkerResult(operations: loop.operations, seconds: loop.seconds, failures: loop.failures)
    }

    /// The raw floor through the store's own client: `GET` (one round trip) or `GET` then `SET` (two), which is the
    /// least a breaker that reads and writes shared state on every call costs.
    private static func floor(_ name: String, _ configuration: RedisCircuitStore.Configuration, _ options: Options)
        async throws -> WorkerResult
    {
        let pool = RedisConnectionPool(endpoint: try RedisCircuitStore.endpoint(configuration), size: 1)
        let key = "{\(options.prefix)}:floor"
        let deadline = { NIODeadline.now() + .seconds(5) }
        _ = try await pool.send([["SET", key, "0"]], deadline: deadline())
        for _ in 0..<200 { _ = try await pool.send([["GET", key]], deadline: deadline()) }
        try waitForGo()
        let loop = try await CallLoop.run(
            seconds: options.seconds, recordSamples: true, expectedCalls: Int(options.seconds * 50_000)
        ) {
            let value = try await pool.send([["GET", key]], deadline: deadline())[0]
            if name == "getset" {
                _ = try await pool.send([["SET", key, value.string ?? "0"]], deadline: deadline())
            }
            return false
        }
        await pool.close()
        try LatencySamples.write(loop.samples, to: options.samplesPath)
        return WorkerResult(operations: loop.operations, seconds: loop.seconds)
    }
}

extension Worker {
    /// The two ways to write one key only if nobody wrote it since it was read, incrementing it as fast as possible:
    /// `script` reads (`GET`) and writes with a Lua script that compares first (what the store does, one shared
    /// connection); `watch` sends `WATCH` + `GET`, then `MULTI`, `SET`, `EXEC` on a connection of its own (`EXEC`
    /// answers null if the key changed). Both are two round trips, and both retry after the same random wait.
    /// `busyWaits` reports the retries.
    fileprivate static func compareAndSet(
        _ name: String, _ configuration: RedisCircuitStore.Configuration, _ options: Options
    ) async throws -> WorkerResult {
        let endpoint = try RedisCircuitStore.endpoint(configuration)
        let deadline = { NIODeadline.now() + .seconds(5) }
        let connection = try await RedisConnection.connect(to: endpoint, deadline: deadline())
        let key = "{\(options.prefix)}:cas"
        let script = """
            if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
            redis.call('SET', KEYS[1], ARGV[2])
            return 1
            """
        let sha = try await connection.send([["SCRIPT", "LOAD", script]], deadline: deadline())[0].string ?? ""
        var retries: UInt64 = 0
        func increment() async throws {
            var attempt = 0
            while true {
                let written: Bool
                if name == "watch" {
                    let read = try await connection.send([["WATCH", key], ["GET", key]], deadline: deadline())[1]
                    let next = String((read.integer ?? 0) + 1)
                    let exec = try await connection.send(
                        [["MULTI"], ["SET", key, next], ["EXEC"]], deadline: deadline())[2]
                    written = !exec.isNull
                } else {
                    let read = try await connection.send([["GET", key]], deadline: deadline())[0]
                    let current = read.string ?? ""
                    let next = String((read.integer ?? 0) + 1)
                    let reply = try await connection.send(
                        [["EVALSHA", sha, "1", key, current, next]], deadline: deadline())[0]
                    written = reply.integer == 1
                }
                if written { return }
                retries += 1
                attempt += 1
                let ceiling = min(10_000_000, 200_000 << min(attempt, 10))
                try await Task.sleep(for: .nanoseconds(Int64.random(in: 0...Int64(ceiling))))
            }
        }
        for _ in 0..<100 { try await increment() }
        retries = 0
        try waitForGo()
        let loop = try await CallLoop.run(
            seconds: options.seconds, recordSamples: true, expectedCalls: Int(options.seconds * 50_000)
        ) {
            try await increment()
            return false
        }
        await connection.close()
        try LatencySamples.write(loop.samples, to: options.samplesPath)
        return WorkerResult(operations: loop.operations, seconds: loop.seconds, busyWaits: retries)
    }
}

/// Counts the trial calls that ran.
private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() { count.withLock { $0 += 1 } }
}

#endif
