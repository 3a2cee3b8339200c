import ArgumentParser
import Circuitry
import CircuitryPostgres
import CircuitryWorkerReport
import Foundation
import Logging
import Synchronization

#if DynamoDB
    import CircuitryDynamoDB
#endif

/// The options every breaker-using subcommand shares: where the store is, which circuit, and its settings.
struct BreakerOptions: ParsableArguments {
    @Option(
        help: """
            The SQLite database file (created if missing), a PostgreSQL URL (postgres://…; its tables are \
            created if missing), or, built with the DynamoDB trait, dynamodb://TABLE?region=…&endpoint=….
            """)
    var db: String

    @Option(help: "The circuit's name.")
    var circuit: String = "upstream"

    @Option(help: "Failures that open the circuit.")
    var threshold: Int = 5

    @Option(help: "Probes admitted per half-open period, and successful probes that close it.")
    var closeThreshold: Int = 1

    @Option(help: "How long the circuit stays open, in milliseconds.")
    var openForMs: Int = 60_000

    @Option(help: "How long a probe lease lasts, in milliseconds.")
    var probeTimeoutMs: Int = 30_000

    @Option(help: "The store's busy bound, in milliseconds.")
    var busyMs: Int = 1000

    @Option(help: "Successes batched per circuit before they are written.")
    var maxBatch: Int = 1000

    @Option(help: "Names this process in the history and the report.")
    var name: String?

    @OptionGroup var policies: PolicyOptions

    @OptionGroup var barrier: BarrierOptions

    var actor: String { "\(name ?? "worker") pid \(getpid())" }

    var settings: BreakerSettings {
        BreakerSettings(
            failureThreshold: threshold, closeThreshold: closeThreshold, openDuration: .milliseconds(openForMs),
            probeTimeout: .milliseconds(probeTimeoutMs),
            openDurationPolicy: policies.openDurationPolicy(base: .milliseconds(openForMs)),
            rateWindow: policies.rateWindow, slowCallDuration: policies.slowCallMs.map { .milliseconds($0) })
    }

    /// Opens the store and a factory whose state-change callback appends to `callbacks`.
    func open(callbacks: CallbackLog) async throws -> (WorkerStore, BreakerFactory) {
        let store = try await WorkerStore.open(db, busy: .milliseconds(busyMs), logger: Self.logger)
        var configuration = BreakerFactory.Configuration(settings: settings)
        configuration.actor = actor
        configuration.maximumBatchedSuccesses = maxBatch
        // Counts must not be written behind the test's back: batches are written by size or by flush().
        configuration.successFlushInterval = .seconds(3600)
        configuration.onStateChange = { change in
            callbacks.append(TransitionReport(change.transition))
        }
        let factory = try BreakerFactory(store: store.store, configuration: configuration, logger: Self.logger)
        return (store, factory)
    }

    /// Logs go to standard error, so that standard output carries only the report.
    static let logger: Logger = {
        var logger = Logger(label: "circuitry-worker") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .info
        return logger
    }()
}

/// The policies of issue 6 (rate window, slow calls, open-duration backoff), mapped onto `BreakerSettings`.
///
/// Without any of them the breaker trips on consecutive failures and stays open `--open-for-ms` each time.
/// `BreakerFactory` validates the resulting settings, so out-of-range values fail the worker at start-up.
struct PolicyOptions: ParsableArguments {
    @Option(help: "Trip on rates over a sliding window of this many milliseconds (RateWindowPolicy).")
    var rateWindowMs: Int?

    @Option(help: "Buckets the rate window is divided into.")
    var rateBuckets: Int = 10

    @Option(help: "The fewest calls in the rate window before a rate can trip the circuit.")
    var minimumThroughput: Int = 20

    @Option(help: "Failure rate (0 < rate ≤ 1) that trips; 0.5 when a window is set and no slow-call rate is.")
    var failureRate: Double?

    @Option(help: "Calls slower than this many milliseconds are slow (slowCallDuration).")
    var slowCallMs: Int?

    @Option(help: "Slow-call rate (0 < rate ≤ 1) that trips; needs --slow-call-ms.")
    var slowCallRate: Double?

    @Option(help: "Exponential backoff of the open period: --open-for-ms × factor^(attempt − 1).")
    var backoffFactor: Double?

    @Option(help: "The longest open period of the backoff, in milliseconds (default: 64 × --open-for-ms).")
    var backoffMaxMs: Int?

    @Option(help: "The backoff's jitter, a fraction (0.1 is ±10 %; default 0.1).")
    var backoffJitter: Double?

    func validate() throws {
        if rateWindowMs == nil, failureRate != nil || slowCallRate != nil {
            throw ValidationError("--failure-rate and --slow-call-rate need --rate-window-ms")
        }
        if backoffFactor == nil, backoffMaxMs != nil || backoffJitter != nil {
            throw ValidationError("--backoff-max-ms and --backoff-jitter need --backoff-factor")
        }
    }

    /// Fixed, or exponential from `base` when `--backoff-factor` is given.
    func openDurationPolicy(base: Duration) -> OpenDurationPolicy {
        guard let backoffFactor else { return .fixed }
        return .exponential(
            factor: backoffFactor, maximum: backoffMaxMs.map { .milliseconds($0) } ?? base * 64,
            jitter: backoffJitter ?? 0.1)
    }

    var rateWindow: RateWindowPolicy? {
        guard let rateWindowMs else { return nil }
        return RateWindowPolicy(
            samplingDuration: .milliseconds(rateWindowMs), minimumThroughput: minimumThroughput,
            failureRateThreshold: failureRate ?? (slowCallRate == nil ? 0.5 : nil),
            slowCallRateThreshold: slowCallRate, buckets: rateBuckets)
    }
}

/// The state-change callbacks this process received, in order.
final class CallbackLog: Sendable {
    private let entries = Mutex<[TransitionReport]>([])

    func append(_ entry: TransitionReport) { entries.withLock { $0.append(entry) } }

    var all: [TransitionReport] { entries.withLock { $0 } }
}

/// A start barrier, so that several processes begin at the same instant.
struct BarrierOptions: ParsableArguments {
    @Option(help: "A file this process creates once it is ready to start.")
    var readyFile: String?

    @Option(help: "Wait until this file exists before starting (at most 30 s).")
    var startFile: String?

    /// Announces readiness, then waits for the start file. Polls every 200 µs: a test barrier, not a lock.
    func arriveAndWait() throws {
        if let readyFile {
            guard FileManager.default.createFile(atPath: readyFile, contents: Data()) else {
                throw ValidationError("cannot create the ready file \(readyFile)")
            }
        }
        guard let startFile else { return }
        let deadline = ContinuousClock.now + .seconds(30)
        while access(startFile, F_OK) != 0 {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("the start file \(startFile) did not appear within 30 s")
            }
            usleep(200)
        }
    }
}

/// Writes one line of JSON to standard output at once (unbuffered), so that a test reading the file sees whole lines.
func emit(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var data = try encoder.encode(value)
    data.append(UInt8(ascii: "\n"))
    try FileHandle.standardOutput.write(contentsOf: data)
}

/// Sleeps without holding any lock (a simulated upstream call or a pause after a rejection).
func idle(milliseconds: Int) async throws {
    guard milliseconds > 0 else { return }
    try await Task.sleep(for: .milliseconds(milliseconds))
}

/// Milliseconds since `start`, as a fraction.
func milliseconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

/// The store a worker opened: a SQLite file, or a PostgreSQL server whose pool runs for the life of the process.
struct WorkerStore {
    let store: any CircuitStore
    /// The SQLite store's busy waits; `nil` on PostgreSQL, which has no busy handler.
    let busyWaits: () -> (total: Duration, count: UInt64)?
    let close: () async -> Void

    /// Opens `db`: a `postgres://` or `postgresql://` URL, or else a SQLite path. On PostgreSQL the tables are
    /// checked (and created if missing) before this returns, as SQLite's are.
    static func open(_ db: String, busy: Duration, logger: Logger) async throws -> WorkerStore {
        #if DynamoDB
            if DynamoDBCircuitStore.Configuration.isURL(db) {
                // The table is checked (and created if the URL says so) before the first call.
                let store = try DynamoDBCircuitStore(url: db, logger: logger)
                try await store.prepare()
                return WorkerStore(store: store, busyWaits: { nil }, close: {})
            }
        #endif
        guard PostgresCircuitStore.Configuration.isURL(db) else {
            let store = try SQLiteCircuitStore(
                path: db, configuration: SQLiteCircuitStore.Configuration(busyTimeout: busy))
            return WorkerStore(
                store: store, busyWaits: { store.busyWaits }, close: { store.close() })
        }
        var configuration = try PostgresCircuitStore.Configuration(url: db)
        // One call at a time per worker: two connections are plenty, and many workers share the server's limit.
        configuration.maximumConnections = 2
        let store = try PostgresCircuitStore(configuration: configuration, logger: logger)
        let pool = Task { try? await store.run() }
        do {
            try await store.prepare()
        } catch {
            pool.cancel()
            await pool.value
            throw error
        }
        return WorkerStore(
            store: store, busyWaits: { nil },
            close: {
                pool.cancel()
                await pool.value
            })
    }
}
