#if Redis
import Circuitry
import CircuitryRedis
import CircuitryRedisTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// The server goes away, comes back, stops answering; credentials and TLS. Each test runs a server of its own.
@Suite struct RedisFaultTests {
    /// `crash`: SIGKILL; otherwise a clean shutdown. The server keeps an append-only file flushed before each
    /// acknowledgement, so that everything acknowledged is there after the restart, and nothing that failed.
    @Test(arguments: [false, true])
    func serverRestartMidRun(crash: Bool) async throws {
        let server = try await TestRedisServer.start(appendOnly: true)
        defer { server.stop(crash: true) }
        try await withOpenStores { stores in
            // The store under test has a tight bound; the increments that count what was acknowledged go through a
            // second store with a generous one, so that a busy machine cannot make one of them ambiguous (timed out,
            // yet applied).
            let store = try stores.store(on: server, prefix: "restart") { $0.operationTimeout = .seconds(2) }
            let steady = try stores.store(on: server, prefix: "restart") { $0.operationTimeout = .seconds(30) }
            let increment = { @Sendable in try await addFailure(in: steady) }
            // Connected first, however loaded the machine: what is tested is what happens after that.
            try await firstSuccess { try await store.prepare() }
            var committed = 0
            for _ in 0..<20 {
                try await increment()
                committed += 1
            }

            server.stop(crash: crash)
            var codes: Set<CircuitStoreError.Code> = []
            for _ in 0..<3 {
                let started = ContinuousClock.now
                do {
                    try await addFailure(in: store)
                    Issue.record("an update succeeded while the server was down")
                } catch let error as CircuitStoreError {
                    codes.insert(error.code)
                    #expect(error.location == "redis://127.0.0.1:\(server.port)/0?prefix=restart")
                }
                // A refused connection fails at once; the bound leaves room for a busy machine.
                #expect(ContinuousClock.now - started < .seconds(3))
            }
            #expect(codes.isSubset(of: [.connectionLost, .cannotOpen]), "\(codes)")

            try await server.restart()
            // The next operation reconnects: the store recovers without being recreated.
            try await firstSuccess { _ = try await store.read("c") }
            for _ in 0..<10 {
                try await increment()
                committed += 1
            }
            // Everything acknowledged before the stop is there (with the append-only file even after SIGKILL), and
            // nothing that failed.
            #expect(try await store.read("c").record?.counts.failures == Int64(committed))
        }
    }

    /// A server that stops answering without closing its connections (SIGSTOP) must not hang a caller: every
    /// operation fails with a typed error within its timeout, and the store recovers when the server answers again,
    /// with nothing acknowledged lost.
    @Test func serverThatStopsAnsweringIsATypedErrorNotAHang() async throws {
        let server = try await TestRedisServer.start(appendOnly: true)
        defer {
            server.freeze(false)
            server.stop(crash: true)
        }
        try await withOpenStores { stores in
            let store = try stores.store(on: server, prefix: "frozen") {
                $0.operationTimeout = .seconds(2)
                $0.connectTimeout = .seconds(2)
            }
            // What counts as acknowledged goes through a store with a generous bound (see serverRestartMidRun).
            let steady = try stores.store(on: server, prefix: "frozen") { $0.operationTimeout = .seconds(30) }
            let increment = { @Sendable in try await addFailure(in: store) }
            try await firstSuccess { try await store.prepare() }
            var committed = 0
            for _ in 0..<10 {
                try await addFailure(in: steady)
                committed += 1
            }

            server.freeze(true)
            for attempt in 0..<3 {
                let started = ContinuousClock.now
                // Unstructured, so that a hang is reported here instead of hanging the test.
                let call = Task { () -> CircuitStoreError? in
                    do {
                        try await increment()
                        return nil
                    } catch let error as CircuitStoreError {
                        return error
                    } catch {
                        return CircuitStoreError(code: .other, message: "untyped: \(error)", location: "")
                    }
                }
                let answer = try await firstOf(call, orAfter: .seconds(8))
                let elapsed = ContinuousClock.now - started
                guard let answer else {
                    Issue.record("attempt \(attempt): no answer within 8 s from a store whose timeout is 2 s")
                    break
                }
                let error = try #require(answer, "attempt \(attempt): an update succeeded on a frozen server")
                #expect([.busy, .connectionLost, .cannotOpen].contains(error.code), "\(error)")
                // The timeout, and the scheduling of a busy machine.
                #expect(elapsed < .seconds(3), "attempt \(attempt) took \(elapsed): \(error)")
                print("frozen server, attempt \(attempt): \(error.code) after \(elapsed)")
            }

            server.freeze(false)
            try await firstSuccess { _ = try await store.read("c") }
            try await addFailure(in: steady)
            committed += 1
            // A write that timed out may still have been applied when the server woke: at least every acknowledged
            // one is there, and at most the three that failed more.
            let failures = try #require(try await steady.read("c").record?.counts.failures)
            #expect(failures >= Int64(committed) && failures <= Int64(committed + 3), "\(failures) vs \(committed)")
        }
    }

    /// With the server gone, breakers follow the storage-failure policy: fail closed (the work does not run) or
    /// fail open (it runs, unrecorded); a failure to record after the work never loses the work's result.
    @Test func breakersFollowTheStorageFailurePolicy() async throws {
        let server = try await TestRedisServer.start()
        defer { server.stop(crash: true) }
        try await withOpenStores { stores in
            let store = try stores.store(on: server) { $0.operationTimeout = .seconds(1) }
            let closedFactory = try BreakerFactory(store: store, logger: .quiet)
            var openConfiguration = BreakerFactory.Configuration()
            openConfiguration.storageFailurePolicy = .failOpen
            let openFactory = try BreakerFactory(store: store, configuration: openConfiguration, logger: .quiet)
            let failClosed = try closedFactory.breaker(for: "jobs")
            let failOpen = try openFactory.breaker(for: "jobs")
            // The calls whose admission must succeed go through a store with a generous bound, so that a busy machine
            // cannot refuse them before the server goes away.
            let steady = try stores.store(on: server, prefix: store.configuration.keyPrefix) {
                $0.operationTimeout = .seconds(30)
            }
            let admitted = try BreakerFactory(store: steady, logger: .quiet).breaker(for: "jobs")
            try await firstSuccess { _ = try await failClosed.execute { 1 } }

            // The server goes away while a call runs: the call's error or value still reaches the caller; only the
            // recording fails.
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await admitted.execute { () async throws -> Int in
                    server.stop(crash: true)
                    throw Boom()
                }
            }
            try await server.restart()
            try await firstSuccess { _ = try await admitted.execute { 1 } }
            let value = try await admitted.execute { () async -> Int in
                server.stop(crash: true)
                return 42
            }
            #expect(value == 42)

            let ran = Attempts()
            let refused = await #expect(throws: CircuitStoreError.self) {
                try await failClosed.execute { ran.add() }
            }
            #expect(refused?.code == .connectionLost || refused?.code == .cannotOpen)
            #expect(ran.count == 0)
            #expect(
                try await failOpen.execute { () async -> Int in
                    ran.add()
                    return 7
                } == 7)
            #expect(ran.count == 1)

            try await server.restart()
            try await firstSuccess { _ = try await failClosed.execute { 1 } }
        }
    }

    @Test func credentialsAndACLUsers() async throws {
        let server = try await TestRedisServer.start(extraArguments: [
            "--requirepass", "sesame", "--user", "alice", "on", ">wonderland", "~*", "&*", "+@all",
            "--user", "bob", "on", ">builder", "~{bob}*", "+@all",
        ])
        defer { server.stop(crash: true) }
        try await withOpenStores { stores in
            func open(_ credentials: String, prefix: String = "jobs") throws -> RedisCircuitStore {
                var configuration = try RedisCircuitStore.Configuration(
                    url: server.url(parameters: "prefix=\(prefix)", credentials: credentials))
                configuration.operationTimeout = .seconds(10)
                return stores.keep(try RedisCircuitStore(configuration: configuration, logger: .quiet))
            }
            for (credentials, expected) in [
                ("", "NOAUTH"), (":wrong-secret", "WRONGPASS"), ("alice:sesame", "WRONGPASS"),
            ] {
                let error = await #expect(throws: CircuitStoreError.self, "\(credentials)") {
                    try await open(credentials).prepare()
                }
                #expect(error?.code == .cannotOpen, "\(credentials)")
                #expect(error.map { "\($0)".contains(expected) } ?? false, "\(String(describing: error))")
                #expect(error.map { !"\($0)".contains("secret") && !"\($0)".contains("sesame") } ?? false)
            }
            try await addFailure(in: try open(":sesame"))
            try await addFailure(in: try open("alice:wonderland"))
            #expect(try await open("alice:wonderland").read("c").record?.counts.failures == 2)
            try await addFailure(in: try open("bob:builder", prefix: "bob"))
            let denied = await #expect(throws: CircuitStoreError.self) {
                try await open("bob:builder", prefix: "jobs").prepare()
            }
            #expect(denied?.code == .cannotOpen)
            #expect(denied.map { "\($0)".contains("NOPERM") && !"\($0)".contains("builder") } ?? false)
        }
    }

    /// `rediss://` with a certificate of a throw-away authority: verified against `ssl_ca_certs`; refused without
    /// it; accepted unverified with `ssl_cert_reqs=none`.
    @Test func tlsConnections() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let port = try TestRedisServer.freePort()
        let server = try await TestRedisServer.start(
            extraArguments: [
                "--tls-port", "\(port)", "--tls-cert-file", certificates.certificate,
                "--tls-key-file", certificates.key, "--tls-ca-cert-file", certificates.authority,
                "--tls-auth-clients", "no",
            ])
        defer { server.stop(crash: true) }
        try await withOpenStores { stores in
            func open(_ parameters: String) throws -> RedisCircuitStore {
                var configuration = try RedisCircuitStore.Configuration(
                    url: "rediss://localhost:\(port)/0" + (parameters.isEmpty ? "" : "?\(parameters)"))
                configuration.operationTimeout = .seconds(10)
                return stores.keep(try RedisCircuitStore(configuration: configuration, logger: .quiet))
            }
            try await addFailure(in: try open("ssl_ca_certs=\(certificates.authority)"))
            try await addFailure(in: try open("ssl_cert_reqs=none"))
            #expect(try await open("ssl_ca_certs=\(certificates.authority)").read("c").record?.counts.failures == 2)
            let untrusted = await #expect(throws: CircuitStoreError.self) { try await open("").prepare() }
            #expect(untrusted?.code == .cannotOpen)
            #expect(untrusted.map { "\($0)".contains("TLS") } ?? false, "\(String(describing: untrusted))")
        }
    }
}

/// A throw-away certificate authority and a certificate for `localhost` it signed, made with `openssl`.
struct TestCertificates {
    let folder: String
    var authority: String { folder + "/ca.pem" }
    var certificate: String { folder + "/server.pem" }
    var key: String { folder + "/server.key" }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("circuitry-tls-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let f = folder
        let steps = [
            "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=circuitry-test-ca -keyout \(f)/ca.key "
                + "-out \(f)/ca.pem",
            "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout \(f)/server.key -out \(f)/server.csr",
            "x509 -req -in \(f)/server.csr -CA \(f)/ca.pem -CAkey \(f)/ca.key -CAcreateserial -days 2 "
                + "-out \(f)/server.pem -extfile \(f)/san.cnf",
        ]
        try "subjectAltName=DNS:localhost\n".write(toFile: folder + "/san.cnf", atomically: true, encoding: .utf8)
        for step in steps {
            let (status, output) = try ChildProcess.run("/usr/bin/openssl", step.split(separator: " ").map(String.init))
            guard status == 0 else { throw TestRedisServer.Failure(description: "openssl \(step) failed: \(output)") }
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// Retries `operation` every 50 ms until it succeeds; a store error still there after 20 s is thrown.
func firstSuccess(of operation: () async throws -> Void) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while true {
        do {
            return try await operation()
        } catch is CircuitStoreError where ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// The task's value, or `nil` if it has none after `timeout` (the task is left running).
func firstOf<T: Sendable>(_ task: Task<T, Never>, orAfter timeout: Duration) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    let box = Answer<T>()
    Task { box.set(await task.value) }
    while ContinuousClock.now < deadline {
        if let value = box.get() { return value }
        try await Task.sleep(for: .milliseconds(10))
    }
    return nil
}

private final class Answer<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    func set(_ new: T) { value.withLock { $0 = new } }
    func get() -> T? { value.withLock { $0 } }
}
#endif
