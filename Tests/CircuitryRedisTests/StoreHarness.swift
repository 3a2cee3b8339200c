#if Redis
import Circuitry
import CircuitryRedis
import CircuitryRedisTestSupport
import Foundation
import Logging
import Synchronization

/// Stores a test opened, all closed at the end of the test.
final class OpenStores: Sendable {
    private let stores = Mutex<[RedisCircuitStore]>([])

    /// A store on `server` under a key prefix of its own (unless `prefix` names a shared one).
    func store(
        on server: TestRedisServer, prefix: String = OpenStores.freshPrefix(), clock: (any WallClock)? = nil,
        configure: (inout RedisCircuitStore.Configuration) -> Void = { _ in }
    ) throws -> RedisCircuitStore {
        var configuration = try RedisCircuitStore.Configuration(url: server.url())
        configuration.keyPrefix = prefix
        // The whole suite runs in parallel on 2 busy cores: tests that are not about the timeout get a bound that
        // measures the contract, not the load.
        configuration.operationTimeout = .seconds(10)
        configure(&configuration)
        return keep(try RedisCircuitStore(configuration: configuration, clock: clock, logger: .quiet))
    }

    /// Closes `store` at the end of the test.
    @discardableResult
    func keep(_ store: RedisCircuitStore) -> RedisCircuitStore {
        stores.withLock { $0.append(store) }
        return store
    }

    func closeAll() async {
        for store in stores.withLock({ $0 }) { await store.close() }
    }

    /// A key prefix no other test uses.
    static func freshPrefix() -> String {
        "t" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
    }
}

/// Runs `body` with a set of stores that are closed when it ends, however it ends.
func withOpenStores<T>(_ body: (OpenStores) async throws -> T) async throws -> T {
    let stores = OpenStores()
    do {
        let value = try await body(stores)
        await stores.closeAll()
        return value
    } catch {
        await stores.closeAll()
        throw error
    }
}

/// Adds one failure to circuit `name` in one read-modify-write.
func addFailure(in store: some CircuitStore, _ name: String = "c") async throws {
    try await store.update(name) { record, now in
        var current = record ?? CircuitRecord(name: name, createdAt: now)
        current.counts.failures += 1
        record = current
        return StoreUpdate(value: (), write: true)
    }
}

extension Logger {
    /// Drops everything: the tests assert on errors, not on log lines.
    static let quiet = Logger(label: "circuitry.tests", factory: { _ in SwiftLogNoOpLogHandler() })
}
#endif
