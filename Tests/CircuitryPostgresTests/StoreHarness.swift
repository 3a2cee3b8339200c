#if Postgres

import Circuitry
import CircuitryPostgres
import CircuitryPostgresTestSupport
import Foundation
import Logging
import Synchronization

/// Stores whose `run()` the test started, all stopped at the end of the test.
final class RunningStores: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// A store on `server` in a schema of its own (unless `schema` names a shared one), with its pool running.
    func store(
        on server: TestPostgresServer, schema: String = RunningStores.freshSchema(), clock: (any WallClock)? = nil,
        configure: (inout PostgresCircuitStore.Configuration) -> Void = { _ in }
    ) throws -> PostgresCircuitStore {
        var configuration = try PostgresCircuitStore.Configuration(url: server.url())
        configuration.schema = schema
        configure(&configuration)
        return start(try PostgresCircuitStore(configuration: configuration, clock: clock, logger: .quiet))
    }

    /// ``store(on:schema:clock:configure:)``, prepared (``PostgresCircuitStore/prepare()``): connected, with its
    /// tables, as a program that starts with `withStore` is. For tests whose first operation must not also pay for
    /// the first connection and the tables, which take seconds on a loaded machine.
    func preparedStore(
        on server: TestPostgresServer, schema: String = RunningStores.freshSchema(), clock: (any WallClock)? = nil,
        configure: (inout PostgresCircuitStore.Configuration) -> Void = { _ in }
    ) async throws -> PostgresCircuitStore {
        let store = try store(on: server, schema: schema, clock: clock, configure: configure)
        try await store.prepare()
        return store
    }

    /// Runs `store`'s pool until the end of the test.
    @discardableResult
    func start(_ store: PostgresCircuitStore) -> PostgresCircuitStore {
        let task = Task { _ = try? await store.run() }
        tasks.withLock { $0.append(task) }
        return store
    }

    func stopAll() async {
        for task in tasks.withLock({ $0 }) {
            task.cancel()
            await task.value
        }
    }

    /// A schema name no other test uses.
    static func freshSchema() -> String {
        "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    }
}

/// Runs `body` with a set of stores whose pools are stopped when it ends, however it ends.
func withRunningStores<T>(_ body: (RunningStores) async throws -> T) async throws -> T {
    let stores = RunningStores()
    do {
        let value = try await body(stores)
        await stores.stopAll()
        return value
    } catch {
        await stores.stopAll()
        throw error
    }
}

extension Logger {
    /// Drops everything: the tests assert on errors, not on log lines.
    static let quiet = Logger(label: "circuitry.tests", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// Keeps every log line, with its metadata, as text: for tests that check what the store logs.
final class LogRecorder: Sendable {
    private let lines = Mutex<[String]>([])

    /// Every line so far.
    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    /// A logger at trace level that records here.
    var logger: Logger {
        var logger = Logger(label: "circuitry.tests") { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.lines.withLock { $0.append("\(event.level): \(event.message) \(merged)") }
        }
    }
}

#endif
