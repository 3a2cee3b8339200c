#if Redis
import Circuitry
import CircuitryRedis
import CircuitryRedisTestSupport
import CircuitryStoreConformance
import Testing

@Suite struct RedisConformanceTests {
    /// The same suite as the in-memory, SQLite and PostgreSQL stores, each check under a key prefix of its own.
    @Test(arguments: StoreConformance.checks)
    func conformance(_ check: StoreConformance.Check) async throws {
        let server = try await TestRedisServer.shared()
        try await withOpenStores { stores in
            // Some checks queue 50 updates of one circuit while the whole suite runs in parallel on 2 cores: the
            // bound on waiting is raised so that it measures the contract, not the load.
            try await check.run { clock in
                try stores.store(on: server, clock: clock) { $0.operationTimeout = .seconds(15) }
            }
        }
    }

    /// The same suite on a one-node Redis Cluster, which refuses any command or script whose keys are in more than
    /// one hash slot (CROSSSLOT): every key of a store must share its slot, whatever the circuits are called.
    @Test(arguments: StoreConformance.checks)
    func conformanceOnACluster(_ check: StoreConformance.Check) async throws {
        let server = try await TestRedisServer.sharedCluster()
        try await withOpenStores { stores in
            try await check.run { clock in
                try stores.store(on: server, clock: clock) { $0.operationTimeout = .seconds(15) }
            }
        }
    }
}
#endif
