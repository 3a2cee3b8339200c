#if Postgres

import Circuitry
import CircuitryPostgres
import CircuitryPostgresTestSupport
import CircuitryStoreConformance
import Foundation
import Logging
import Testing

@Suite struct PostgresConformanceTests {
    /// The same suite as the in-memory and SQLite stores, each check in a schema of its own.
    @Test(arguments: StoreConformance.checks)
    func conformance(_ check: StoreConformance.Check) async throws {
        let server = try await TestPostgresServer.shared()
        try await withRunningStores { stores in
            // Some checks queue 50 updates of one row behind a pool of 4 connections while the whole suite runs
            // in parallel on 2 cores: the bound on waiting is raised so that it measures the contract, not the load.
            try await check.run { clock in
                try stores.store(on: server, clock: clock) { $0.operationTimeout = .seconds(15) }
            }
        }
    }
}

@Suite struct PostgresStoreTests {
    @Test func configurationFromURL() throws {
        let plain = try PostgresCircuitStore.Configuration(url: "postgres://jobs@127.0.0.1/breakers")
        #expect(plain.host == "127.0.0.1" && plain.port == 5432 && plain.database == "breakers")
        #expect(plain.tls == .disable)  // loopback
        #expect(plain.location == "postgres://jobs@127.0.0.1:5432/breakers")

        let full = try PostgresCircuitStore.Configuration(
            url: "postgresql://app%40x:s%3Acret@db.internal:6543/jobs?sslmode=verify-full&connect_timeout=3"
                + "&schema=circuitry&table_prefix=q_")
        #expect(full.username == "app@x" && full.password == "s:cret" && full.port == 6543)
        #expect(full.tls == .verifyFull && full.connectTimeout == .seconds(3))
        #expect(full.schema == "circuitry" && full.tablePrefix == "q_")
        #expect(!full.location.contains("cret"))

        let remote = try PostgresCircuitStore.Configuration(url: "postgres://app@db.internal")
        #expect(remote.tls == .prefer && remote.database == "app")

        #expect(throws: ConfigurationError.self) { try PostgresCircuitStore.Configuration(url: "mysql://a@b/c") }
        #expect(throws: ConfigurationError.self) { try PostgresCircuitStore.Configuration(url: "postgres://b/c") }
        #expect(throws: ConfigurationError.self) {
            try PostgresCircuitStore.Configuration(url: "postgres://a@b/c?sslmode=sometimes")
        }
        #expect(throws: ConfigurationError.self) {
            try PostgresCircuitStore.Configuration(url: "postgres://a@b/c?sslmod=require")
        }
        #expect(throws: ConfigurationError.self) {
            try PostgresCircuitStore.Configuration(url: "postgres://a@b/c?schema=Robert%27;drop")
        }
        let error = #expect(throws: ConfigurationError.self) {
            try PostgresCircuitStore.Configuration(url: "postgres://a:hunter2@b/c?nope=1")
        }
        #expect(error.map { !"\($0)".contains("hunter2") } ?? false)
        // A URL that does not parse at all (a port that is not a number) is quoted without its password.
        let unreadable = #expect(throws: ConfigurationError.self) {
            try PostgresCircuitStore.Configuration(url: "postgres://a:hunter2@b:port/c")
        }
        #expect(
            unreadable.map { "\($0)".contains("postgres://a:***@b:port/c") } ?? false,
            "\(String(describing: unreadable))")
    }

    @Test func tablesAreReadableWithPsql() async throws {
        let server = try await TestPostgresServer.shared()
        let schema = RunningStores.freshSchema()
        try await withRunningStores { stores in
            let clock = ManualClock()
            let store = try await stores.preparedStore(on: server, schema: schema, clock: clock) {
                $0.tablePrefix = "jobs_"
            }
            var configuration = BreakerFactory.Configuration(settings: BreakerSettings(failureThreshold: 1))
            configuration.actor = "test"
            let breakers = try BreakerFactory(store: store, configuration: configuration, logger: .quiet)
            struct Boom: Error {}
            _ = try? await breakers.breaker(for: "send-email/t1").execute { () async throws -> Int in throw Boom() }
        }
        // The generation is a circuit's first (drawn from the hour and a random number) plus one.
        let status = try await server.psql("SELECT name, state FROM \(schema).jobs_circuit_status")
        #expect(status == "send-email/t1|open")
        let log = try await server.psql(
            "SELECT circuit, from_state, to_state, actor FROM \(schema).jobs_transition_log")
        #expect(log == "send-email/t1|closed|open|test")
        let at = try await server.psql("SELECT at FROM \(schema).jobs_transition_log")
        #expect(at.hasPrefix("2027-01-15 08:00:00"), "times are shown as UTC timestamps: \(at)")
        #expect(try await server.psql("SELECT version FROM \(schema).jobs_circuitry_schema") == "2")
    }

    /// Tables of version 1 (before `circuits.reporters`) are migrated when a store opens them: every row kept, the
    /// new column empty, and a version row added.
    @Test func version1TablesAreMigratedAndKeepTheirRows() async throws {
        let server = try await TestPostgresServer.shared()
        let schema = RunningStores.freshSchema()
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server, schema: schema, clock: ManualClock())
            let breakers = try BreakerFactory(store: store, logger: .quiet)
            try await breakers.forceOpen("send-email/t1", reason: "before the migration")
        }
        // What version 1 created: no reporters column, one version row.
        try await server.psql(
            "ALTER TABLE \(schema).circuits DROP COLUMN reporters; UPDATE \(schema).circuitry_schema SET version = 1")
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server, schema: schema, clock: ManualClock())
            var settings = BreakerSettings()
            settings.minimumReporters = 2
            let breakers = try BreakerFactory(
                store: store, configuration: BreakerFactory.Configuration(settings: settings), logger: .quiet)
            let kept = try await breakers.snapshot(of: "send-email/t1")
            #expect(kept?.record.override == .forcedOpen(until: nil, reason: "before the migration"))
            #expect(kept?.record.reporters == [])
            struct Boom: Error {}
            _ = try? await breakers.breaker(for: "other").execute { () async throws -> Int in throw Boom() }
            #expect(try await breakers.snapshot(of: "other")?.record.reporters.count == 1)
        }
        #expect(try await server.psql("SELECT max(version) FROM \(schema).circuitry_schema") == "2")
        #expect(try await server.psql("SELECT count(*) FROM \(schema).circuits WHERE reporters = ''") == "1")
    }

    @Test func newerSchemaAndForeignTablesAreRefusedAndLeftAlone() async throws {
        let server = try await TestPostgresServer.shared()
        let newer = RunningStores.freshSchema()
        let foreign = RunningStores.freshSchema()
        try await withRunningStores { stores in
            try await stores.store(on: server, schema: newer).prepare()
            try await server.psql("UPDATE \(newer).circuitry_schema SET version = 99")
            let refused = await #expect(throws: CircuitStoreError.self) {
                try await stores.store(on: server, schema: newer).prepare()
            }
            #expect(refused?.code == .newerSchema)
            #expect(refused?.location == "postgres://postgres@127.0.0.1:\(server.port)/postgres?schema=\(newer)")
            #expect(try await server.psql("SELECT version FROM \(newer).circuitry_schema") == "99")

            try await server.psql("CREATE SCHEMA \(foreign); CREATE TABLE \(foreign).circuits (id int)")
            let other = await #expect(throws: CircuitStoreError.self) {
                _ = try await stores.store(on: server, schema: foreign).list()
            }
            #expect(other?.code == .foreignDatabase)
            #expect(
                try await server.psql(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = '\(foreign)'")
                    == "1")
        }
    }

    @Test func manyStoresCreatingTheSameTablesAtOnceAllSucceed() async throws {
        let server = try await TestPostgresServer.shared()
        let schema = RunningStores.freshSchema()
        try await withRunningStores { stores in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    let store = try stores.store(on: server, schema: schema)
                    group.addTask { try await store.prepare() }
                }
                try await group.waitForAll()
            }
        }
        #expect(try await server.psql("SELECT count(*) FROM \(schema).circuitry_schema") == "1")
    }

    /// Two processes (here: two stores with their own pools) writing a brand-new circuit at once: both updates
    /// count, the second waiting for the first one's row instead of overwriting it.
    @Test func concurrentFirstWritesAreNotLost() async throws {
        let server = try await TestPostgresServer.shared()
        let schema = RunningStores.freshSchema()
        try await withRunningStores { stores in
            let a = try stores.store(on: server, schema: schema)
            let b = try stores.store(on: server, schema: schema)
            try await a.prepare()
            for round in 0..<20 {
                let name = "new-\(round)"
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for store in [a, b, a, b] {
                        group.addTask {
                            try await store.update(name) { record, now in
                                var current = record ?? CircuitRecord(name: name, createdAt: now)
                                current.counts.failures += 1
                                record = current
                                return StoreUpdate(value: (), write: true)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await a.read(name).record?.counts.failures == 4)
            }
        }
    }

    @Test func timeComesFromTheServer() async throws {
        let server = try await TestPostgresServer.shared()
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server)
            let before = Timestamp(Date())
            let now = try await store.read("x").now
            let after = Timestamp(Date())
            // Same machine, same clock: the server's time falls between the two readings of ours.
            #expect(before <= now && now <= after + .milliseconds(5))
            let written = try await store.update("x") { record, now in
                record = CircuitRecord(name: "x", createdAt: now)
                return StoreUpdate(value: now, write: true)
            }
            #expect(try await store.read("x").record?.updatedAt == written)
        }
    }

    @Test func historyIsPrunedPerCircuitAndFollowedInCommitOrder() async throws {
        let server = try await TestPostgresServer.shared()
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server, clock: ManualClock()) { $0.historyLimit = 3 }
            for index in 0..<5 {
                for name in ["a", "b"] {
                    try await store.update(name) { record, now in
                        record = record ?? CircuitRecord(name: name, createdAt: now)
                        let transition = CircuitTransition(
                            circuit: name, from: .closed, to: .open, generation: Int64(index), at: now,
                            reason: "r\(index)", actor: "test")
                        return StoreUpdate(value: (), write: true, transitions: [transition])
                    }
                }
            }
            let a = try await store.history(of: "a", afterID: nil, limit: 10)
            #expect(a.map(\.transition.reason) == ["r2", "r3", "r4"])
            let all = try await store.history(of: nil, afterID: nil, limit: 10)
            #expect(all.count == 6 && all.map(\.id) == all.map(\.id).sorted())
            let after = try await store.history(of: nil, afterID: all[1].id, limit: 2)
            #expect(after.map(\.id) == [all[2].id, all[3].id])
        }
    }

    @Test func aBodyErrorReachesTheCallerAndWritesNothing() async throws {
        let server = try await TestPostgresServer.shared()
        struct Refused: Error {}
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server)
            await #expect(throws: Refused.self) {
                try await store.update("x") { record, now -> StoreUpdate<Void> in
                    record = CircuitRecord(name: "x", createdAt: now)
                    throw Refused()
                }
            }
            #expect(try await store.read("x").record == nil)
            #expect(try await store.list().records.isEmpty)
        }
    }

    @Test func aRowLockHeldTooLongIsBusyNotAHang() async throws {
        let server = try await TestPostgresServer.shared()
        let schema = RunningStores.freshSchema()
        try await withRunningStores { stores in
            try await stores.preparedStore(on: server, schema: schema).update("x") { record, now in
                record = CircuitRecord(name: "x", createdAt: now)
                return StoreUpdate(value: (), write: true)
            }
            let store = try await stores.preparedStore(on: server, schema: schema) { $0.operationTimeout = .seconds(1) }
            // psql holds the row lock for 6 s, far past the store's bound.
            let holder = Task.detached {
                try await server.psql(
                    "BEGIN; SELECT 1 FROM \(schema).circuits WHERE name = 'x' FOR UPDATE; SELECT pg_sleep(6); COMMIT")
            }
            // Once psql sleeps, it holds the lock (taken by the statement before). Waited for, not guessed: on a
            // loaded machine psql may take longer than any fixed pause to get there.
            let sleeping =
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%\(schema)%'"
            var waited = 0
            while try await server.psql(sleeping) == "0", waited < 3000 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            let started = ContinuousClock.now
            let error = await #expect(throws: CircuitStoreError.self) {
                try await store.update("x") { _, _ in StoreUpdate(value: (), write: false) }
            }
            #expect(error?.code == .busy)
            #expect(ContinuousClock.now - started < .seconds(3))
            _ = try await holder.value
            // Once the lock is free, the store works again.
            try await store.update("x") { _, _ in StoreUpdate(value: (), write: false) }
        }
    }

    @Test func unreachableServerIsCannotOpenWithTheURLWithoutPassword() async throws {
        let port = try await TestPostgresServer.shared().port
        // A loopback port nobody listens on: the shared server's port plus one is as likely free as any.
        try await withRunningStores { stores in
            var configuration = try PostgresCircuitStore.Configuration(
                url: "postgres://u:secret@127.0.0.1:\(port == 65535 ? 1 : port + 1)/db")
            configuration.operationTimeout = .milliseconds(800)
            let store = stores.start(try PostgresCircuitStore(configuration: configuration, logger: .quiet))
            let error = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("x") }
            #expect(error?.code == .cannotOpen || error?.code == .connectionLost)
            #expect(error?.location == "postgres://u@127.0.0.1:\(port == 65535 ? 1 : port + 1)/db")
            #expect(error.map { !"\($0)".contains("secret") } ?? false)
        }
    }

    @Test func aStoreWhoseRunHasNotStartedSaysSo() async throws {
        let server = try await TestPostgresServer.shared()
        var configuration = try PostgresCircuitStore.Configuration(url: server.url())
        configuration.operationTimeout = .milliseconds(300)
        let store = try PostgresCircuitStore(configuration: configuration, logger: .quiet)
        let error = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("x") }
        #expect(error?.code == .closed)
        #expect(error.map { "\($0)".contains("run()") } ?? false)
    }

    @Test func withStoreRunsThePoolForTheClosure() async throws {
        let server = try await TestPostgresServer.shared()
        var configuration = try PostgresCircuitStore.Configuration(url: server.url())
        configuration.schema = RunningStores.freshSchema()
        let store = try await PostgresCircuitStore.withStore(configuration: configuration, logger: .quiet) { store in
            try await store.update("x") { record, now in
                record = CircuitRecord(name: "x", createdAt: now)
                return StoreUpdate(value: (), write: true)
            }
            #expect(try await store.list().records.map(\.name) == ["x"])
            return store
        }
        let error = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("x") }
        #expect(error?.code == .closed)
    }

    /// With the server down, every call fails within the configured bounds: the first calls too, which also check
    /// the tables (they used to wait 10 s each for that).
    @Test func theFirstCallsToAServerThatIsDownEndWithinTheOperationTimeout() async throws {
        let port = try await TestPostgresServer.shared().port
        try await withRunningStores { stores in
            var configuration = try PostgresCircuitStore.Configuration(
                url: "postgres://u@127.0.0.1:\(port == 65535 ? 1 : port + 1)/db")
            configuration.operationTimeout = .milliseconds(500)
            configuration.connectTimeout = .milliseconds(500)
            let store = stores.start(try PostgresCircuitStore(configuration: configuration, logger: .quiet))
            let breakers = try BreakerFactory(store: store, logger: .quiet)
            for call in 1...2 {
                let started = ContinuousClock.now
                let error = await #expect(throws: CircuitStoreError.self) {
                    try await breakers.breaker(for: "down").execute {}
                }
                // The bound the store applied is in its message (it used to be 10 s): a loaded machine can starve this
                // test's threads for seconds, so the wall clock only guards against a hang.
                #expect(
                    error?.message.contains("within 0.5 seconds") == true, "call \(call): \(String(describing: error))")
                #expect(ContinuousClock.now - started < .seconds(60), "call \(call)")
            }
        }
    }

    /// `forceOpen(_:for:)` counts on the server's clock; an `until` that a client whose clock is 10 minutes behind
    /// computes is refused instead of opening a circuit "until" a time that has already passed.
    @Test func aForcedOpenPeriodIsCountedOnTheServersClock() async throws {
        let server = try await TestPostgresServer.shared()
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server)  // the server's clock
            let client = ManualClock(start: Timestamp(Date()) - .seconds(600))  // this host's clock, 10 min behind
            let breakers = try BreakerFactory(store: store, logger: .quiet)

            let refused = await #expect(throws: ConfigurationError.self) {
                try await breakers.forceOpen("deploy", until: client.now() + .seconds(300), reason: "deploy")
            }
            #expect(refused?.setting == "until")
            #expect(try await breakers.snapshot(of: "deploy")?.record.override == nil, "nothing was forced")

            let before = Timestamp(Date())
            let until = try await breakers.forceOpen("deploy", for: .seconds(300), reason: "deploy")
            let after = Timestamp(Date())
            // The server runs on this machine: its clock reads between our two readings.
            #expect(before + .seconds(300) <= until && until <= after + .seconds(300), "\(before) \(until) \(after)")
            let rejection = await #expect(throws: CircuitRejected.self) {
                try await breakers.breaker(for: "deploy").execute {}
            }
            #expect(rejection?.retryAfter == until)
        }
    }
}

#endif
