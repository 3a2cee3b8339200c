#if DynamoDB
import Circuitry
import CircuitryDynamoDBTestSupport
import Foundation
import Testing

@testable import CircuitryDynamoDB

/// Throttling, server errors, lost answers, an endpoint that goes away and one that stops answering. Serialized,
/// on a moto server of their own: injected faults hit every client of a server.
@Suite(.serialized) struct DynamoDBFaultTests {
    private static let privateServer = Task { try await TestMotoServer() }

    @Test func throttlingIsRetriedAndBoundedInCountAndTime() async throws {
        let server = try await Self.privateServer.value
        let store = try makeStore(endpoint: server.endpoint) {
            $0.maximumRetries = 3
            $0.operationTimeout = .seconds(5)
        }
        try await addFailure(in: store)
        let retriesBefore = store.statistics["retry"] ?? 0

        // Two throttled answers, then the request goes through: the caller sees a success.
        try server.injectFaults(throttle: 2)
        try await addFailure(in: store)
        #expect((store.statistics["retry"] ?? 0) - retriesBefore == 2)

        // Throttled for good: 1 + 3 attempts, then busy, well within the operation's bound.
        try server.injectFaults(throttle: 1000)
        var started = ContinuousClock.now
        let error = await storeError { try await addFailure(in: store) }
        #expect(error?.code == .busy, "\(String(describing: error))")
        #expect(error.map { "\($0)".contains("ProvisionedThroughputExceededException") } ?? false)
        #expect((store.statistics["retry"] ?? 0) - retriesBefore == 5)
        #expect(ContinuousClock.now - started < .seconds(2))

        // With a larger count, the operation's deadline is the bound.
        let patient = try makeStore(endpoint: server.endpoint, table: store.configuration.table) {
            $0.maximumRetries = 1000
            $0.operationTimeout = .milliseconds(600)
        }
        started = ContinuousClock.now
        let late = await storeError { try await addFailure(in: patient) }
        let elapsed = ContinuousClock.now - started
        #expect(late?.code == .busy, "\(String(describing: late))")
        #expect(elapsed < .milliseconds(1500), "\(elapsed)")

        // A 5xx is retried as well.
        try server.injectFaults(throttle: 0, serverErrors: 1)
        try await addFailure(in: store)
        try server.injectFaults()
        #expect(try await store.read("c").record?.counts.failures == 3)
    }

    /// A write carried out by the server whose answer was lost: the client sends it again, finds its own write
    /// there (the condition fails), and the store recognises it by its token. Counted once.
    @Test(arguments: ["PutItem", "TransactWriteItems"])
    func aWriteWhoseAnswerWasLostCountsOnce(operation: String) async throws {
        let server = try await Self.privateServer.value
        let store = try makeStore(endpoint: server.endpoint)
        let breakers = try BreakerFactory(
            store: store, configuration: .init(settings: BreakerSettings(failureThreshold: 3)), logger: .quiet)
        let breaker = try breakers.breaker(for: "lost")
        struct Boom: Error {}
        let fail = { _ = try? await breaker.execute { () async throws -> Int in throw Boom() } }
        await fail()
        await fail()
        try server.injectFaults(lostAnswers: 1, only: operation)
        await fail()  // the third failure trips the circuit: PutItem for the second, a transaction for the third
        if operation == "PutItem" {
            try server.injectFaults()
            try await addFailure(in: store, "plain")
            try server.injectFaults(lostAnswers: 1, only: operation)
            try await addFailure(in: store, "plain")
            #expect(try await store.read("plain").record?.counts.failures == 2)
        }
        try server.injectFaults()
        let record = try #require(try await store.read("lost").record)
        #expect(record.state == .open)
        let history = try await store.history(of: "lost", afterID: nil, limit: 10)
        #expect(history.map(\.transition.to) == [.open], "\(history)")
        #expect(try server.counters()["errors"] ?? 0 >= 1)
    }

    /// The endpoint goes away (connections reset, new ones refused) and comes back; the tables stay.
    @Test func endpointStoppedMidRunIsATypedErrorAndRecovers() async throws {
        let server = try await Self.privateServer.value
        let proxy = try await TestMotoServer.Proxy(to: server)
        defer { proxy.stop() }
        let store = try makeStore(endpoint: proxy.endpoint) { $0.operationTimeout = .seconds(1) }
        var committed = 0
        for _ in 0..<10 {
            try await addFailure(in: store)
            committed += 1
        }
        proxy.stop()
        for attempt in 0..<3 {
            let started = ContinuousClock.now
            let error = await storeError { try await addFailure(in: store) }
            let elapsed = ContinuousClock.now - started
            #expect(error?.code == .connectionLost, "attempt \(attempt): \(String(describing: error))")
            #expect(error?.location == store.location)
            #expect(elapsed < .milliseconds(1500), "attempt \(attempt) took \(elapsed)")
        }
        // The breaker's storage-failure policy applies: fail closed runs nothing, fail open runs the work.
        for policy in [StorageFailurePolicy.failClosed, .failOpen] {
            var configuration = BreakerFactory.Configuration()
            configuration.storageFailurePolicy = policy
            let breaker = try BreakerFactory(store: store, configuration: configuration, logger: .quiet)
                .breaker(for: "policy")
            let ran = await (try? breaker.execute { true }) ?? false
            #expect(ran == (policy == .failOpen), "\(policy)")
        }

        try await proxy.start()
        try await firstSuccess { try await addFailure(in: store) }
        committed += 1
        for _ in 0..<5 {
            try await addFailure(in: store)
            committed += 1
        }
        // A refused connection sends nothing: exactly what was acknowledged is there.
        #expect(try await store.read("c").record?.counts.failures == Int64(committed))
    }

    /// An endpoint that stops answering without closing its connections (SIGSTOP) must not hang a caller: each
    /// operation fails with a typed error within its bound, and the store works again once it answers.
    @Test func endpointThatStopsAnsweringIsATypedErrorNotAHang() async throws {
        let server = try await Self.privateServer.value
        defer { server.freeze(false) }
        let store = try makeStore(endpoint: server.endpoint) { $0.operationTimeout = .seconds(1) }
        var committed = 0
        for _ in 0..<10 {
            try await addFailure(in: store, "frozen")
            committed += 1
        }
        server.freeze(true)
        for attempt in 0..<3 {
            let started = ContinuousClock.now
            // Unstructured, so that a hang is reported here instead of hanging the test.
            let call = Task { await storeError { try await addFailure(in: store, "frozen") } }
            let answer = try await firstOf(call, orAfter: .seconds(8))
            let elapsed = ContinuousClock.now - started
            guard let answer else {
                Issue.record("attempt \(attempt): no answer within 8 s from a store whose bound is 1 s")
                break
            }
            let error = try #require(answer, "attempt \(attempt): an update succeeded on a frozen server")
            #expect(error.code == .connectionLost, "\(error)")
            #expect(elapsed < .milliseconds(1500), "attempt \(attempt) took \(elapsed): \(error)")
            print("frozen endpoint, attempt \(attempt): \(error.code) after \(elapsed)")
        }
        server.freeze(false)
        try await firstSuccess { try await addFailure(in: store, "frozen") }
        committed += 1
        // A write that timed out may still be carried out when the server resumes: at least every acknowledged
        // one is there, and at most the three that failed more.
        let failures = try #require(try await store.read("frozen").record?.counts.failures)
        #expect(failures >= Int64(committed) && failures <= Int64(committed + 3), "\(failures) vs \(committed)")
    }
}
#endif
