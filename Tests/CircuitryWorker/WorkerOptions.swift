import ArgumentParser
import Circuitry
import CircuitryCommandLine
import CircuitryStores
import CircuitryWorkerReport
import Foundation
import Logging
import Synchronization

/// The options every breaker-using subcommand shares: where the store is, which circuit, and its settings (the
/// same options, and the same mapping to `BreakerSettings`, as `circuitry run`).
struct BreakerOptions: ParsableArguments {
    @Option(help: "The SQLite database file (created if missing), or a server URL (its tables are created if missing).")
    var db: String

    @Option(help: "The circuit's name.")
    var circuit: String = "upstream"

    @OptionGroup var breakerSettings: BreakerSettingsOptions

    @Option(help: "The store's busy bound, in milliseconds.")
    var busyMs: Int = 1000

    @Option(help: "Successes batched per circuit before they are written.")
    var maxBatch: Int = 1000

    @Option(help: "Admit calls from a view of a closed circuit at most this many milliseconds old (maximumStaleness).")
    var maximumStalenessMs: Int?

    @Option(help: "Names this process in the history and the report.")
    var name: String?

    @Option(help: "Distinct processes whose failures it takes to trip the circuit (minimumReporters).")
    var minimumReporters: Int = 1

    @OptionGroup var barrier: BarrierOptions

    var actor: String { "\(name ?? "worker") pid \(getpid())" }

    var settings: BreakerSettings {
        var settings = breakerSettings.settings()
        settings.minimumReporters = minimumReporters
        return settings
    }

    /// Opens the store and a factory whose state-change callback appends to `callbacks`, runs `body` with them, and
    /// closes the store. On a server, one call at a time per worker: two connections are plenty, and many workers
    /// share the server's limit.
    ///
    /// - Parameter flushInterval: How old a batch of successes may get (default 1 hour: counts must not be written
    ///   behind the test's back; batches are then written by size, by `flush()` or by the factory's service).
    func withFactory<Value: Sendable>(
        callbacks: CallbackLog, flushInterval: Duration = .seconds(3600),
        _ body: (any CircuitStore, BreakerFactory) async throws -> Value
    ) async throws -> Value {
        let options = StoreLocation.Options(
            sqlite: SQLiteCircuitStore.Configuration(busyTimeout: .milliseconds(busyMs)), maximumConnections: 2)
        return try await StoreLocation(db).withStore(options, logger: Self.logger) { store in
            var configuration = BreakerFactory.Configuration(settings: settings)
            configuration.actor = actor
            configuration.maximumBatchedSuccesses = maxBatch
            configuration.successFlushInterval = flushInterval
            configuration.maximumStaleness = maximumStalenessMs.map { .milliseconds($0) }
            configuration.onStateChange = { change in
                callbacks.append(TransitionReport(change.transition))
            }
            let factory = try BreakerFactory(store: store, configuration: configuration, logger: Self.logger)
            return try await body(store, factory)
        }
    }

    /// Logs go to standard error, so that standard output carries only the report.
    static let logger: Logger = {
        var logger = Logger(label: "circuitry-worker") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .info
        return logger
    }()
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
