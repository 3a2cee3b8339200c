#if DynamoDB
import Circuitry
import CircuitryDynamoDBTestSupport
import CircuitryStoreConformance
import Foundation
import Logging
import Testing

@testable import CircuitryDynamoDB

@Suite(.serialized) struct DynamoDBConformanceTests {
    /// The same suite as the other stores, each check in a table of its own on the shared moto server.
    ///
    /// The checks read every time from one injected clock, as one host would: the lease allowance for clock skew
    /// between hosts is set to zero (it lengthens each lease by design; its own test is below). One check at a time:
    /// moto serves one request at a time, and 31 checks at once (some queue 50 updates of one circuit) would wait in
    /// its line for minutes.
    @Test(arguments: StoreConformance.checks)
    func conformance(_ check: StoreConformance.Check) async throws {
        let server = try await TestMotoServer.shared()
        try await check.run { clock in
            try makeStore(endpoint: server.endpoint, clock: clock) {
                $0.clockSkewTolerance = .zero
            }
        }
    }
}

@Suite struct DynamoDBStoreTests {
    @Test func configurationFromURL() throws {
        let plain = try DynamoDBCircuitStore.Configuration(
            url: "dynamodb://circuits?region=eu-west-1", environment: [:])
        #expect(plain.table == "circuits" && plain.region == "eu-west-1" && plain.endpoint == nil)
        #expect(plain.resolvedEndpoint.absoluteString == "https://dynamodb.eu-west-1.amazonaws.com")
        #expect(!plain.createTableIfMissing && plain.credentials == .standard)
        #expect(plain.location == "dynamodb://circuits?region=eu-west-1")

        let local = try DynamoDBCircuitStore.Configuration(
            url: "DynamoDB://jobs.circuits?endpoint=http%3A%2F%2F127.0.0.1%3A8000&create_table=true&profile=ci"
                + "&operation_timeout_ms=500",
            environment: ["AWS_REGION": "us-west-2"])
        #expect(local.region == "us-west-2" && local.endpoint?.absoluteString == "http://127.0.0.1:8000")
        #expect(local.createTableIfMissing && local.credentials == .profile("ci"))
        #expect(local.operationTimeout == .milliseconds(500))
        let china = try DynamoDBCircuitStore.Configuration(
            url: "dynamodb://abc?region=cn-north-1", environment: [:])
        #expect(china.resolvedEndpoint.absoluteString == "https://dynamodb.cn-north-1.amazonaws.com.cn")
        let fallback = try DynamoDBCircuitStore.Configuration(
            url: "dynamodb://abc", environment: ["AWS_DEFAULT_REGION": "ap-south-1"])
        #expect(fallback.region == "ap-south-1")

        for bad in [
            "dynamodb://circuits", "postgres://a@b/c", "dynamodb://circuits?region=eu-west-1&regoin=x",
            "dynamodb://a?region=eu-west-1", "dynamodb://circuits/x?region=eu-west-1",
            "dynamodb://circuits?region=EU", "dynamodb://circuits?region=eu-west-1&endpoint=ftp://x",
            "dynamodb://circuits?region=eu-west-1&create_table=yes",
            "dynamodb://circuits?region=eu-west-1&endpoint=http://h/path",
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") {
                try DynamoDBCircuitStore.Configuration(url: bad, environment: [:])
            }
        }
        #expect(DynamoDBCircuitStore.Configuration.isURL("DYNAMODB://x"))
        #expect(!DynamoDBCircuitStore.Configuration.isURL("/var/lib/breakers.sqlite"))
    }

    @Test func credentialsFromEnvironmentAndProfiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("circuitry-aws-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("credentials").path
        try """
        # comment
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = default-secret

        [profile ci]
        AWS_ACCESS_KEY_ID=AKIDCI
        aws_secret_access_key=ci-secret
        aws_session_token = ci-token
        [broken]
        aws_access_key_id = AKIDBROKEN
        """.write(toFile: file, atomically: true, encoding: .utf8)

        let environment = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"]
        let fromEnvironment = try AWSCredentials.resolve(
            .standard, environment: environment.merging(["AWS_SHARED_CREDENTIALS_FILE": file]) { $1 })
        #expect(fromEnvironment == AWSCredentials(accessKeyID: "AKIDENV", secretAccessKey: "env-secret"))
        #expect(!"\(fromEnvironment)".contains("secret"))

        let fromDefault = try AWSCredentials.resolve(.standard, environment: ["AWS_SHARED_CREDENTIALS_FILE": file])
        #expect(fromDefault.accessKeyID == "AKIDDEFAULT" && fromDefault.sessionToken == nil)
        let fromProfile = try AWSCredentials.resolve(
            .standard, environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "ci"])
        #expect(
            fromProfile
                == AWSCredentials(accessKeyID: "AKIDCI", secretAccessKey: "ci-secret", sessionToken: "ci-token"))
        #expect(
            try AWSCredentials.resolve(.profile("ci"), environment: ["AWS_SHARED_CREDENTIALS_FILE": file])
                == fromProfile)

        for (source, environment) in [
            (AWSCredentials.Source.profile("nope"), ["AWS_SHARED_CREDENTIALS_FILE": file]),
            (.profile("broken"), ["AWS_SHARED_CREDENTIALS_FILE": file]),
            (.standard, ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "nope"]),
            (.standard, ["AWS_SHARED_CREDENTIALS_FILE": folder.appendingPathComponent("none").path]),
            (.standard, ["AWS_ACCESS_KEY_ID": "AKIDHALF", "AWS_SHARED_CREDENTIALS_FILE": file]),
        ] {
            let error = #expect(throws: ConfigurationError.self, "\(source)") {
                try AWSCredentials.resolve(source, environment: environment)
            }
            #expect(error.map { !"\($0)".contains("-secret") } ?? false)
        }
    }

    @Test func aMissingTableIsCannotOpenUnlessCreationIsAsked() async throws {
        let server = try await TestMotoServer.shared()
        let table = TestMotoServer.freshTable()
        let missing = try makeStore(endpoint: server.endpoint, table: table) { $0.createTableIfMissing = false }
        let error = await #expect(throws: CircuitStoreError.self) { try await missing.prepare() }
        #expect(error?.code == .cannotOpen)
        #expect(error?.location == "dynamodb://\(table)?region=us-east-1&endpoint=\(server.endpoint)")
        #expect(error.map { "\($0)".contains("createTableIfMissing") } ?? false)

        // Eight processes starting at once on a table nobody created: all succeed, one table, one meta item.
        let stores = try (0..<8).map { _ in try makeStore(endpoint: server.endpoint, table: table) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in stores { group.addTask { try await store.prepare() } }
            try await group.waitForAll()
        }
        try await missing.prepare()
        try await addFailure(in: missing)
        #expect(try await stores[3].read("c").record?.counts.failures == 1)
    }

    @Test func foreignAndNewerTablesAreRefusedAndLeftAlone() async throws {
        let server = try await TestMotoServer.shared()
        let owner = try makeStore(endpoint: server.endpoint)
        try await owner.prepare()
        let deadline = ContinuousClock.now + .seconds(10)
        // A newer Circuitry's table.
        _ = try await owner.request(
            "UpdateItem",
            [
                "Key": .object(DynamoDBItems.metaKey), "UpdateExpression": .string("SET schema_version = :v"),
                "ExpressionAttributeValues": .object([":v": Attribute.n(99)]),
            ], deadline: deadline)
        let newer = await #expect(throws: CircuitStoreError.self) {
            try await makeStore(endpoint: server.endpoint, table: owner.configuration.table).prepare()
        }
        #expect(newer?.code == .newerSchema)

        // A table keyed otherwise.
        let foreignTable = TestMotoServer.freshTable("foreign")
        _ = try await owner.client.call(
            "CreateTable",
            .object([
                "TableName": .string(foreignTable),
                "AttributeDefinitions": .array([
                    .object(["AttributeName": .string("id"), "AttributeType": .string("S")])
                ]),
                "KeySchema": .array([.object(["AttributeName": .string("id"), "KeyType": .string("HASH")])]),
                "BillingMode": .string("PAY_PER_REQUEST"),
            ]), deadline: deadline)
        let foreign = await #expect(throws: CircuitStoreError.self) {
            _ = try await makeStore(endpoint: server.endpoint, table: foreignTable).list()
        }
        #expect(foreign?.code == .foreignDatabase)

        // A table keyed like ours, with someone else's items and no meta item.
        let occupied = try makeStore(endpoint: server.endpoint, table: TestMotoServer.freshTable("occupied"))
        try await occupied.prepare()
        _ = try await occupied.request("DeleteItem", ["Key": .object(DynamoDBItems.metaKey)], deadline: deadline)
        _ = try await occupied.request(
            "PutItem", ["Item": .object(["pk": Attribute.s("user#1"), "sk": Attribute.n(1)])], deadline: deadline)
        let someoneElses = await #expect(throws: CircuitStoreError.self) {
            try await makeStore(endpoint: server.endpoint, table: occupied.configuration.table).prepare()
        }
        #expect(someoneElses?.code == .foreignDatabase)
        let left = try await occupied.request("Scan", [:], deadline: deadline)
        #expect(left["Items"]?.array?.count == 1)
    }

    /// Two processes (two stores, each with its own queue) writing one circuit at once: nothing is lost, and the
    /// losers of a race ran again (counted as conflicts).
    @Test func racingStoresLoseNothing() async throws {
        let server = try await TestMotoServer.shared()
        let table = TestMotoServer.freshTable()
        let a = try makeStore(endpoint: server.endpoint, table: table)
        let b = try makeStore(endpoint: server.endpoint, table: table)
        try await a.prepare()
        for round in 0..<10 {
            let name = "new-\(round)"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in [a, b, a, b] { group.addTask { try await addFailure(in: store, name) } }
                try await group.waitForAll()
            }
            #expect(try await a.read(name).record?.counts.failures == 4)
        }
        let conflicts = (a.statistics["conflict"] ?? 0) + (b.statistics["conflict"] ?? 0)
        print("two stores, 10 rounds of 4 racing updates: \(conflicts) conflicts")
    }

    /// What a call costs in requests, the unit AWS bills: reads that decide alone are one `GetItem`.
    @Test func requestsPerCall() async throws {
        let server = try await TestMotoServer.shared()
        let store = try makeStore(endpoint: server.endpoint)
        try await store.prepare()
        var configuration = BreakerFactory.Configuration(
            settings: BreakerSettings(failureThreshold: 3, openDuration: .seconds(60)))
        configuration.successFlushInterval = .seconds(3600)
        let breakers = try BreakerFactory(store: store, configuration: configuration, logger: .quiet)
        let breaker = try breakers.breaker(for: "cost")
        struct Boom: Error {}
        func cost(_ call: () async throws -> Void) async -> [String: Int] {
            let before = store.statistics
            try? await call()
            var delta: [String: Int] = [:]
            for (key, value) in store.statistics where value != before[key] {
                delta[key] = value - (before[key] ?? 0)
            }
            return delta
        }
        // A circuit's first admission writes its record (its life's first generation), once.
        let first = await cost { _ = try await breaker.acquire() }
        #expect(first == ["GetItem": 2, "PutItem": 1], "a new circuit's record is written at its first call")
        let admitted = await cost { _ = try await breaker.acquire() }
        #expect(admitted == ["GetItem": 1], "a closed circuit admits with one read")
        let succeeded = await cost { _ = try await breaker.execute { 1 } }
        #expect(succeeded == ["GetItem": 2], "admission, and a read that decides the success can be batched")
        let failed = await cost { _ = try await breaker.execute { () async throws -> Int in throw Boom() } }
        #expect(failed == ["GetItem": 2, "PutItem": 1], "admission read, then read and conditional write")
        _ = await cost { _ = try await breaker.execute { () async throws -> Int in throw Boom() } }
        let tripped = await cost { _ = try await breaker.execute { () async throws -> Int in throw Boom() } }
        #expect(
            tripped == ["GetItem": 3, "TransactWriteItems": 1, "Query": 1],
            "a state change: record, meta, one transaction, one trim")
        let rejected = await cost { _ = try await breaker.execute { 1 } }
        #expect(rejected == ["GetItem": 1], "an open circuit rejects with one read")
    }

    /// A lease written by a host whose clock is behind is not taken for expired by a host whose clock is ahead,
    /// as long as they differ by less than the tolerance.
    @Test func probeLeasesAllowForClockSkew() async throws {
        let server = try await TestMotoServer.shared()
        let table = TestMotoServer.freshTable()
        let behind = ManualClock()
        let ahead = ManualClock(start: behind.now() + .milliseconds(800))
        let settings = BreakerSettings(failureThreshold: 1, openDuration: .seconds(1), probeTimeout: .seconds(5))
        func factory(_ clock: ManualClock) throws -> BreakerFactory {
            let store = try makeStore(endpoint: server.endpoint, table: table, clock: clock)
            return try BreakerFactory(store: store, configuration: .init(settings: settings), logger: .quiet)
        }
        let slowHost = try factory(behind)
        let fastHost = try factory(ahead)
        struct Boom: Error {}
        _ = try? await slowHost.breaker(for: "x").execute { () async throws -> Int in throw Boom() }
        behind.advance(by: .seconds(2))
        ahead.advance(by: .seconds(2))
        // The slow host takes the probe lease: its deadline is its own now + 5 s (+ the 1 s tolerance).
        let probe = try slowHost.breaker(for: "x")
        let permit = try await probe.acquire()
        #expect(permit.isProbe)
        // 4.5 s later (the probe may still run) the fast host's clock reads 5.3 s past the lease's start by the
        // slow host's clock: without the tolerance it would call the lease expired and open the circuit.
        behind.advance(by: .milliseconds(4500))
        ahead.advance(by: .milliseconds(4500))
        let state = try await fastHost.breaker(for: "x").snapshot().state
        #expect(state == .halfOpen, "the fast host judged the slow host's lease expired early")
        try await probe.record(.success, for: permit)
        #expect(try await fastHost.breaker(for: "x").snapshot().state == .closed)
    }

    @Test func historyIsTrimmedPerCircuitAndFollowedInCommitOrderAcrossStores() async throws {
        let server = try await TestMotoServer.shared()
        let table = TestMotoServer.freshTable()
        // Four writers at once contend for the history counter.
        let configure = { (configuration: inout DynamoDBCircuitStore.Configuration) in configuration.historyLimit = 3 }
        let a = try makeStore(endpoint: server.endpoint, table: table, configure: configure)
        let b = try makeStore(endpoint: server.endpoint, table: table, configure: configure)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (store, name) in [(a, "a"), (b, "b"), (a, "c"), (b, "a")] {
                group.addTask {
                    for index in 0..<5 {
                        try await store.update(name) { record, now in
                            record = record ?? CircuitRecord(name: name, createdAt: now)
                            let transition = CircuitTransition(
                                circuit: name, from: .closed, to: .open, generation: Int64(index), at: now,
                                reason: "r\(index)", actor: "test")
                            return StoreUpdate(value: (), write: true, transitions: [transition])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        for name in ["a", "b", "c"] {
            let entries = try await a.history(of: name, afterID: nil, limit: 10)
            #expect(entries.count == 3, "\(name): \(entries.map(\.transition.reason))")
        }
        let all = try await b.history(of: nil, afterID: nil, limit: 100)
        #expect(all.count == 9)
        #expect(all.map(\.id) == all.map(\.id).sorted())
        // Ids are handed out one after the other in commit order: 20 transitions, the last 9 kept.
        let ids = try await a.history(of: nil, afterID: 0, limit: 100).map(\.id)
        #expect(ids == all.map(\.id) && ids.last == 20, "\(ids)")
        let after = try await a.history(of: nil, afterID: all[1].id, limit: 2)
        #expect(after.map(\.id) == [all[2].id, all[3].id])
    }

    @Test func idleCircuitsCarryATimeToLive() async throws {
        let server = try await TestMotoServer.shared()
        let clock = ManualClock()
        let store = try makeStore(endpoint: server.endpoint, clock: clock) {
            $0.idleExpiry = .seconds(3600)
            $0.historyExpiry = .seconds(86400)
        }
        try await store.update("idle") { record, now in
            record = CircuitRecord(name: "idle", createdAt: now)
            return StoreUpdate(value: (), write: true)
        }
        try await store.update("open") { record, now in
            var open = CircuitRecord(name: "open", createdAt: now)
            open.state = .open
            open.expiresAt = now + .seconds(60)
            record = open
            let transition = CircuitTransition(
                circuit: "open", from: .closed, to: .open, generation: 2, at: now, reason: "test", actor: "test")
            return StoreUpdate(value: (), write: true, transitions: [transition])
        }
        let deadline = ContinuousClock.now + .seconds(10)
        func item(_ key: Item) async throws -> Item {
            let answer = try await store.request("GetItem", ["Key": .object(key)], deadline: deadline)
            guard let item = answer["Item"]?.object else { throw CircuitStoreError(code: .other, message: "no item") }
            return item
        }
        let seconds = clock.now().millisecondsSince1970 / 1000
        #expect(Attribute.integer(try await item(DynamoDBItems.recordKey("idle"))["ttl"]) == seconds + 3600)
        #expect(try await item(DynamoDBItems.recordKey("open"))["ttl"] == nil, "an open circuit must not expire")
        let history = try await store.history(of: "open", afterID: nil, limit: 1)
        let entryKey: Item = ["pk": Attribute.s("h:open"), "sk": Attribute.n(history[0].id)]
        #expect(Attribute.integer(try await item(entryKey)["ttl"]) == seconds + 86400)
    }

    @Test func aBodyErrorReachesTheCallerAndWritesNothing() async throws {
        let server = try await TestMotoServer.shared()
        struct Refused: Error {}
        let store = try makeStore(endpoint: server.endpoint)
        await #expect(throws: Refused.self) {
            try await store.update("x") { record, now -> StoreUpdate<Void> in
                record = CircuitRecord(name: "x", createdAt: now)
                throw Refused()
            }
        }
        #expect(try await store.read("x").record == nil)
    }

    @Test func unreachableEndpointIsCannotOpenWithTheLocation() async throws {
        // Bound and not listening: refused, and no other test can take the port meanwhile.
        let (socket, port) = try TestMotoServer.boundLoopbackSocket()
        defer { close(socket) }
        let store = try makeStore(endpoint: "http://127.0.0.1:\(port)") { $0.operationTimeout = .milliseconds(800) }
        let started = ContinuousClock.now
        let error = await storeError { _ = try await store.read("x") }
        #expect(error?.code == .cannotOpen, "\(String(describing: error))")
        #expect(error?.location?.hasPrefix("dynamodb://") ?? false)
        #expect(ContinuousClock.now - started < .seconds(3))
    }
}
#endif
