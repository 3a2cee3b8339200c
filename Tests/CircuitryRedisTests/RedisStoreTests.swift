#if Redis
import Circuitry
import CircuitryRedis
import CircuitryRedisTestSupport
import NIOCore
import Foundation
import Logging
import Synchronization
import Testing

@Suite struct RedisConfigurationTests {
    @Test func configurationFromURL() throws {
        let plain = try RedisCircuitStore.Configuration(url: "redis://127.0.0.1")
        #expect(plain.host == "127.0.0.1" && plain.port == 6379 && plain.database == 0 && !plain.tls)
        #expect(plain.username == nil && plain.password == nil && plain.keyPrefix == "circuitry")
        #expect(plain.location == "redis://127.0.0.1:6379/0")

        let full = try RedisCircuitStore.Configuration(
            url: "rediss://app%40x:s%3Acret@cache.internal:6380/3?prefix=jobs&connect_timeout=0.5"
                + "&operation_timeout=3&max_connections=4&ssl_check_hostname=false&ssl_ca_certs=/etc/ca.pem")
        #expect(full.username == "app@x" && full.password == "s:cret" && full.port == 6380 && full.database == 3)
        #expect(full.tls && full.certificateVerification == .noHostname && full.rootCertificatePath == "/etc/ca.pem")
        #expect(full.connectTimeout == .milliseconds(500) && full.operationTimeout == .seconds(3))
        #expect(full.maximumConnections == 4 && full.keyPrefix == "jobs")
        #expect(full.location == "rediss://app@x@cache.internal:6380/3?prefix=jobs")
        #expect(!full.location.contains("cret"))

        let passwordOnly = try RedisCircuitStore.Configuration(url: "redis://:hunter2@[::1]:7000")
        #expect(passwordOnly.username == nil && passwordOnly.password == "hunter2" && passwordOnly.host == "::1")
        #expect(passwordOnly.location == "redis://[::1]:7000/0")
        let unverified = try RedisCircuitStore.Configuration(url: "REDISS://h?ssl_cert_reqs=none")
        #expect(unverified.tls && unverified.certificateVerification == .none)

        #expect(
            RedisCircuitStore.Configuration.isURL("Redis://x") && RedisCircuitStore.Configuration.isURL("rediss://x"))
        #expect(!RedisCircuitStore.Configuration.isURL("/var/lib/redis.sqlite"))

        for bad in [
            "postgres://a@b/c", "redis://", "redis://h/db", "redis://h/-1", "redis://h?nope=1", "redis://h:0",
            "redis://h?prefix=a%7Bb", "redis://h?prefix=a%7Db", "redis://h?prefix=", "redis://h?prefix=a%20b",
            "redis://h?connect_timeout=0", "redis://h?operation_timeout=soon", "redis://h?max_connections=0",
            "redis://h?ssl_cert_reqs=maybe",
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try RedisCircuitStore.Configuration(url: bad) }
        }
        let error = #expect(throws: ConfigurationError.self) {
            try RedisCircuitStore.Configuration(url: "redis://a:hunter2@b/0?nope=1")
        }
        #expect(error.map { !"\($0)".contains("hunter2") } ?? false)
        // A URL that does not parse at all (a port that is not a number) is quoted without its password.
        let unreadable = #expect(throws: ConfigurationError.self) {
            try RedisCircuitStore.Configuration(url: "redis://a:hunter2@b:port/0")
        }
        #expect(
            unreadable.map { "\($0)".contains("redis://a:***@b:port/0") } ?? false,
            "\(String(describing: unreadable))")
    }
}

@Suite struct RedisStoreTests {
    @Test func keysAreReadableWithRedisCli() async throws {
        let server = try await TestRedisServer.shared()
        let prefix = OpenStores.freshPrefix()
        try await withOpenStores { stores in
            let store = try stores.store(on: server, prefix: prefix, clock: ManualClock())
            var configuration = BreakerFactory.Configuration(settings: BreakerSettings(failureThreshold: 1))
            configuration.actor = "test"
            let breakers = try BreakerFactory(store: store, configuration: configuration, logger: .quiet)
            struct Boom: Error {}
            _ = try? await breakers.breaker(for: "send-email/t1").execute { () async throws -> Int in throw Boom() }
        }
        let key = "{\(prefix)}:circuit:send-email/t1"
        #expect(try server.cli(["HGET", key, "state"]) == "open")
        // The generation is the circuit's first (drawn from the hour and a random number) plus one: the trip's.
        let generation = try server.cli(["HGET", key, "generation"])
        #expect(Int64(generation) ?? 0 > 1)
        #expect(try server.cli(["HGET", key, "override"]).isEmpty)
        #expect(try server.cli(["ZRANGE", "{\(prefix)}:circuits", "0", "-1"]) == "send-email/t1")
        let history = try server.cli(["LRANGE", "{\(prefix)}:history:send-email/t1", "0", "-1"])
        #expect(history.hasPrefix("1 {\"actor\":\"test\",\"at\":"), "\(history)")
        #expect(history.contains("\"circuit\":\"send-email/t1\",\"from_state\":\"closed\""), "\(history)")
        #expect(history.contains("\"generation\":\(generation),"), "\(history)")
        #expect(try server.cli(["ZRANGE", "{\(prefix)}:log", "0", "-1"]) == history)
        #expect(try server.cli(["HGET", "{\(prefix)}:meta", "version"]) == "1")
    }

    /// Braces, colons, the key names' own words, any Unicode: every name is its own circuit, in the store's one
    /// slot, and names compare as bytes (precomposed and decomposed é are two circuits).
    @Test func namesThatLookLikeKeysOrTagsStayApart() async throws {
        let server = try await TestRedisServer.sharedCluster()
        try await withOpenStores { stores in
            let store = try stores.store(on: server, clock: ManualClock())
            let names = [
                "{", "}", "{}", "a{b}c", "}{", "x:history:y", "history:x", "circuits", ":", "log", "é", "e\u{301}",
                "🚀/tenant", "a b", String(repeating: "ü", count: 256),
            ]
            for (index, name) in names.enumerated() {
                try await store.update(name) { record, now in
                    var current = CircuitRecord(name: name, createdAt: now)
                    current.counts.failures = Int64(index)
                    record = current
                    let transition = CircuitTransition(
                        circuit: name, from: .closed, to: .open, generation: 1, at: now, reason: "r\(index)",
                        actor: "test")
                    return StoreUpdate(value: (), write: true, transitions: [transition])
                }
            }
            for (index, name) in names.enumerated() {
                let record = try #require(try await store.read(name).record, "\(name)")
                #expect(record.name.utf8.elementsEqual(name.utf8) && record.counts.failures == Int64(index))
                let history = try await store.history(of: name, afterID: nil, limit: 10)
                #expect(history.map(\.transition.reason) == ["r\(index)"], "\(name)")
            }
            let listed = try await store.list().records.map(\.name)
            #expect(
                listed.map { Array($0.utf8) }
                    == names.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) })
            #expect(try await store.remove("{}"))
            #expect(try await store.read("{").record != nil)
            #expect(try await store.read("}").record != nil)
            #expect(try await store.read("é").record?.counts.failures == 10)
            #expect(try await store.read("e\u{301}").record?.counts.failures == 11)
        }
    }

    @Test func prefixesKeepApplicationsApart() async throws {
        let server = try await TestRedisServer.shared()
        try await withOpenStores { stores in
            let a = try stores.store(on: server)
            let b = try stores.store(on: server)
            try await addFailure(in: a, "shared-name")
            try await addFailure(in: a, "shared-name")
            try await addFailure(in: b, "shared-name")
            #expect(try await a.read("shared-name").record?.counts.failures == 2)
            #expect(try await b.read("shared-name").record?.counts.failures == 1)
            #expect(try await b.removeIdle(idleFor: .zero).isEmpty == false)
            #expect(try await a.list().records.count == 1)
        }
    }

    @Test func databaseNumberSelectsTheDatabase() async throws {
        let server = try await TestRedisServer.shared()
        let prefix = OpenStores.freshPrefix()
        try await withOpenStores { stores in
            let store = stores.keep(
                try RedisCircuitStore(
                    url: server.url(database: 5, parameters: "prefix=\(prefix)&operation_timeout=10"), logger: .quiet))
            try await addFailure(in: store)
        }
        #expect(try server.cli(["HGET", "{\(prefix)}:circuit:c", "failures"], database: 5) == "1")
        #expect(try server.cli(["EXISTS", "{\(prefix)}:circuit:c"], database: 0) == "0")
    }

    @Test func newerLayoutAndForeignKeysAreRefusedAndLeftAlone() async throws {
        let server = try await TestRedisServer.shared()
        try await withOpenStores { stores in
            let newer = OpenStores.freshPrefix()
            try server.cli(["HSET", "{\(newer)}:meta", "version", "99"])
            let refused = await #expect(throws: CircuitStoreError.self) {
                try await stores.store(on: server, prefix: newer).prepare()
            }
            #expect(refused?.code == .newerSchema)
            #expect(refused?.location == "redis://127.0.0.1:\(server.port)/0?prefix=\(newer)")
            #expect(try server.cli(["HGET", "{\(newer)}:meta", "version"]) == "99")

            let foreign = OpenStores.freshPrefix()
            try server.cli(["SET", "{\(foreign)}:circuits", "someone else's"])
            let other = await #expect(throws: CircuitStoreError.self) {
                _ = try await stores.store(on: server, prefix: foreign).list()
            }
            #expect(other?.code == .foreignDatabase)
            #expect(try server.cli(["GET", "{\(foreign)}:circuits"]) == "someone else's")

            // A circuit's key of another type, and a hash that is not a record.
            let store = try stores.store(on: server)
            let prefix = store.configuration.keyPrefix
            try server.cli(["SET", "{\(prefix)}:circuit:string", "x"])
            let wrongType = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("string") }
            #expect(wrongType?.code == .foreignDatabase)
            #expect(wrongType.map { "\($0)".contains("WRONGTYPE") && "\($0)".contains("HGETALL") } ?? false)
            try server.cli(["HSET", "{\(prefix)}:circuit:bad", "name", "bad", "state", "sideways"])
            let corrupt = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("bad") }
            #expect(corrupt?.code == .corrupt)
        }
    }

    @Test func timeComesFromTheServer() async throws {
        let server = try await TestRedisServer.shared()
        try await withOpenStores { stores in
            let store = try stores.store(on: server)
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
        let server = try await TestRedisServer.shared()
        try await withOpenStores { stores in
            let store = try stores.store(on: server, clock: ManualClock()) { $0.historyLimit = 3 }
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
            #expect(try await store.history(of: "a", afterID: a[0].id, limit: 1).map(\.id) == [a[1].id])
            // The log keeps what the circuits' lists keep, nothing more.
            let prefix = store.configuration.keyPrefix
            #expect(try server.cli(["ZCARD", "{\(prefix)}:log"]) == "6")
        }
    }

    @Test func aBodyErrorReachesTheCallerAndWritesNothing() async throws {
        let server = try await TestRedisServer.shared()
        struct Refused: Error {}
        try await withOpenStores { stores in
            let store = try stores.store(on: server)
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

    /// A record changed by someone else between every read and its write: the update gives up after its attempts,
    /// with `busy`, having written nothing of its own, and says how many attempts it took.
    @Test func anUpdateThatAlwaysLosesTheRaceGivesUpAfterItsAttempts() async throws {
        let server = try await TestRedisServer.shared()
        try await withOpenStores { stores in
            let store = try stores.store(on: server) { $0.maximumUpdateAttempts = 5 }
            try await addFailure(in: store, "raced")
            let key = "{\(store.configuration.keyPrefix)}:circuit:raced"
            let attempts = Attempts()
            let started = ContinuousClock.now
            let error = await #expect(throws: CircuitStoreError.self) {
                try await store.update("raced") { record, _ in
                    attempts.add()
                    // Another writer, between this attempt's read and its write.
                    try server.cli(["HINCRBY", key, "version", "1"])
                    record?.counts.failures += 100
                    return StoreUpdate(value: (), write: true)
                }
            }
            #expect(error?.code == .busy)
            #expect(attempts.count == 5)
            #expect(store.conflicts.count == 4 && store.conflicts.mostAttempts == 5)
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(try await store.read("raced").record?.counts.failures == 1)
        }
    }

    /// Stores that do not share a process (each its own connections and its own line of updates) race for one
    /// circuit: no update is lost, each finishes within its timeout, and the retries stay few.
    @Test func storesRacingForOneCircuitLoseNothing() async throws {
        // A server of its own: eight stores racing keep a shared one too busy for the other tests.
        let server = try await TestRedisServer.start()
        defer { server.stop(crash: true) }
        let prefix = OpenStores.freshPrefix()
        try await withOpenStores { stores in
            let racers = try (0..<8).map { _ in
                try stores.store(on: server, prefix: prefix)
            }
            let perStore = 40
            let slowest = try await withThrowingTaskGroup(of: Duration.self) { group in
                for store in racers {
                    group.addTask {
                        var slowest = Duration.zero
                        for _ in 0..<perStore {
                            let started = ContinuousClock.now
                            try await addFailure(in: store, "hot")
                            slowest = max(slowest, ContinuousClock.now - started)
                        }
                        return slowest
                    }
                }
                return try await group.reduce(Duration.zero) { max($0, $1) }
            }
            #expect(try await racers[0].read("hot").record?.counts.failures == Int64(8 * perStore))
            let conflicts = racers.map(\.conflicts)
            let retries = conflicts.map(\.count).reduce(0, +)
            let most = conflicts.map(\.mostAttempts).max() ?? 0
            print(
                "8 stores × \(perStore) updates of one circuit: \(retries) retries, at most \(most) attempts, slowest \(slowest)"
            )
            #expect(most < 64)
            #expect(slowest < .seconds(10))
        }
    }

    /// Updates of one circuit from one process wait in line instead of racing: none of them retries.
    @Test func updatesFromOneProcessDoNotRaceEachOther() async throws {
        let server = try await TestRedisServer.shared()
        try await withOpenStores { stores in
            let store = try stores.store(on: server) { $0.operationTimeout = .seconds(30) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<100 { group.addTask { try await addFailure(in: store, "queued") } }
                try await group.waitForAll()
            }
            #expect(try await store.read("queued").record?.counts.failures == 100)
            #expect(store.conflicts.count == 0)
        }
    }

    @Test func aForgottenScriptIsSentAgain() async throws {
        let server = try await TestRedisServer.shared()
        try await withOpenStores { stores in
            let store = try stores.store(on: server)
            try await addFailure(in: store)
            try server.cli(["SCRIPT", "FLUSH"])
            try await addFailure(in: store)
            try await addFailure(in: store)
            #expect(try await store.read("c").record?.counts.failures == 3)
            _ = try await store.removeIdle(idleFor: .seconds(3600))
        }
    }

    @Test func unreachableServerIsCannotOpenWithTheURLWithoutPassword() async throws {
        let port = try TestRedisServer.freePort()
        try await withOpenStores { stores in
            var configuration = try RedisCircuitStore.Configuration(url: "redis://u:secret@127.0.0.1:\(port)/0")
            configuration.operationTimeout = .milliseconds(800)
            let store = stores.keep(try RedisCircuitStore(configuration: configuration, logger: .quiet))
            let started = ContinuousClock.now
            let error = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("x") }
            // A refused connection fails at once, well within the timeout; the bound leaves room for a busy machine.
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(error?.code == .cannotOpen)
            #expect(error?.location == "redis://u@127.0.0.1:\(port)/0")
            #expect(error.map { !"\($0)".contains("secret") && "\($0)".contains("refused") } ?? false, "\(error!)")
        }
    }

    /// A connection can close between being picked and being written to (a deadline, the server): the request must
    /// fail then, not wait for a reply that no handler is left to deliver or time out.
    @Test func aRequestOnAClosedConnectionFailsAtOnce() async throws {
        let server = try await TestRedisServer.shared()
        let endpoint = RedisEndpoint(host: "127.0.0.1", port: server.port, connectTimeout: .seconds(10))
        let connection = try await RedisConnection.connect(to: endpoint, deadline: .now() + .seconds(10))
        #expect(try await connection.send([["PING"]], deadline: .now() + .seconds(10)).first?.string == "PONG")
        await connection.close()
        let call = Task { () -> RedisClientError? in
            do {
                _ = try await connection.send([["PING"]], deadline: .now() + .seconds(3600))
                return nil
            } catch {
                return error as? RedisClientError
            }
        }
        let answer = try await firstOf(call, orAfter: .seconds(10))
        #expect(answer == RedisClientError.connectionClosed, "\(String(describing: answer))")
    }

    @Test func aClosedStoreSaysSo() async throws {
        let server = try await TestRedisServer.shared()
        let store = try OpenStores().store(on: server)
        try await addFailure(in: store)
        await store.close()
        let error = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("c") }
        #expect(error?.code == .closed)
    }

    @Test func withStoreClosesTheStoreAfterTheClosure() async throws {
        let server = try await TestRedisServer.shared()
        var configuration = try RedisCircuitStore.Configuration(url: server.url())
        configuration.keyPrefix = OpenStores.freshPrefix()
        configuration.operationTimeout = .seconds(10)
        let store = try await RedisCircuitStore.withStore(configuration: configuration, logger: .quiet) { store in
            try await addFailure(in: store, "x")
            #expect(try await store.list().records.map(\.name) == ["x"])
            return store
        }
        let error = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("x") }
        #expect(error?.code == .closed)
    }
}

/// Counts calls of a body that the store may run more than once.
final class Attempts: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
#endif
