#if Postgres

import Circuitry
import CircuitryPostgres
import CircuitryPostgresTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// A write whose COMMIT reached the server but whose answer was lost (the deadline passed first, or the network
/// broke) is neither a success nor a failure to the client until it asks: the store asks the server
/// (`txid_status`) instead of guessing, so that successes folded into the commit are not counted again and the
/// transitions it made are called back once.
@Suite struct CommitOutcomeTests {
    /// Collects the state-change callbacks.
    final class Events: Sendable {
        private let changes = Mutex<[StateChange]>([])
        func append(_ change: StateChange) { changes.withLock { $0.append(change) } }
        var targets: [CircuitState] { changes.withLock { $0.map(\.transition.to) } }
    }

    /// What a test works with: a store that reaches the server through a proxy that can lose a COMMIT or its
    /// answer, with a short deadline; a factory over it with successes batched until a flush, and `breaker`'s circuit
    /// already holding 5 batched successes; the callbacks it fired.
    struct Setup {
        let proxy: CommitStallingProxy
        let store: PostgresCircuitStore
        let factory: BreakerFactory
        let breaker: CircuitBreaker
        let events: Events
    }

    private func withSetup(circuit: String, _ body: (Setup) async throws -> Void) async throws {
        let server = try await TestPostgresServer.shared()
        let proxy = try CommitStallingProxy(serverPort: server.port)
        defer { proxy.stop() }
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server) {
                $0.port = proxy.port
                $0.operationTimeout = .seconds(1)
            }
            let events = Events()
            var configuration = BreakerFactory.Configuration(settings: BreakerSettings(failureThreshold: 2))
            configuration.maximumBatchedSuccesses = 1000
            configuration.successFlushInterval = .seconds(3600)
            configuration.onStateChange = { events.append($0) }
            let factory = try BreakerFactory(store: store, configuration: configuration, logger: .quiet)
            let breaker = try factory.breaker(for: circuit)
            for _ in 0..<5 { try await breaker.execute {} }  // batched, not written
            try await body(Setup(proxy: proxy, store: store, factory: factory, breaker: breaker, events: events))
        }
    }

    /// The error `body` throws, or `nil`: so that a test goes on to check the counts either way.
    private func error(_ body: () async throws -> Void) async -> (any Error)? {
        do {
            try await body()
            return nil
        } catch {
            return error
        }
    }

    @Test func aCommitWhoseAnswerIsLostCountsOnceAndIsCalledBack() async throws {
        try await withSetup(circuit: "lost-answer") { setup in
            let (proxy, breaker) = (setup.proxy, setup.breaker)
            // The failure's write folds the 5 successes in; the server commits it, and its answer is lost.
            proxy.arm(.loseAnswer)
            let permit = try await breaker.acquire()
            let failed = await error { try await breaker.record(.failure, for: permit) }
            #expect(failed == nil, "the server committed it: \(String(describing: failed))")
            #expect(proxy.sprung == 1, "the COMMIT's answer was lost")
            try await setup.factory.flush()
            let counts = try #require(try await setup.store.read("lost-answer").record).counts
            #expect(counts.successes == 5, "the batched successes are counted once, not again after the lost answer")
            #expect(counts.failures == 1 && counts.requests == 6)

            // The second failure trips the circuit in a commit whose answer is lost too: called back once.
            proxy.arm(.loseAnswer)
            let second = try await breaker.acquire()
            let secondFailed = await error { try await breaker.record(.failure, for: second) }
            #expect(secondFailed == nil, "the server committed it: \(String(describing: secondFailed))")
            #expect(proxy.sprung == 2)
            #expect(setup.events.targets == [.open], "the committed transition is called back")
            #expect(try await setup.factory.history(of: "lost-answer").map(\.transition.to) == [.open])
            #expect(try await breaker.state() == .open)
        }
    }

    @Test func aCommitThatNeverReachedTheServerKeepsTheBatchForTheNextWrite() async throws {
        try await withSetup(circuit: "lost-commit") { setup in
            setup.proxy.arm(.loseCommit)
            let permit = try await setup.breaker.acquire()
            let error = await #expect(throws: CircuitStoreError.self) {
                try await setup.breaker.record(.failure, for: permit)
            }
            #expect(error?.code == .busy || error?.code == .connectionLost, "\(String(describing: error))")
            #expect(setup.proxy.sprung == 1)
            try await setup.factory.flush()
            let counts = try #require(try await setup.store.read("lost-commit").record).counts
            #expect(counts.successes == 5, "the batch was kept, and written once")
            #expect(counts.failures == 0, "the failure was not committed, and its caller was told")
            #expect(setup.events.targets.isEmpty)
        }
    }
}

#endif
