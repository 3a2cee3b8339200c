#if Postgres

import Circuitry
import CircuitryPostgres
import CircuitryPostgresTestSupport
import Foundation
import Synchronization
import Testing

/// The server goes away in the middle of a run and comes back (a server of its own, not the shared one).
@Suite struct PostgresRestartTests {
    @Test(arguments: [false, true])
    func serverRestartMidRun(crash: Bool) async throws {
        let server = try await TestPostgresServer.make()
        defer { server.abandon() }
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server, schema: "restart") {
                $0.operationTimeout = .seconds(1)
            }
            let increment = { @Sendable in try await addFailure(in: store) }
            var committed = 0
            for _ in 0..<20 {
                try await increment()
                committed += 1
            }

            // `crash`: SIGQUIT, the server dies without a checkpoint and replays its WAL on start.
            await server.stop(immediate: crash)
            var codes: Set<CircuitStoreError.Code> = []
            for _ in 0..<3 {
                do {
                    try await increment()
                    Issue.record("an update succeeded while the server was down")
                } catch let error as CircuitStoreError {
                    codes.insert(error.code)
                    #expect(error.location == "postgres://postgres@127.0.0.1:\(server.port)/postgres?schema=restart")
                }
            }
            #expect(codes.isSubset(of: [.connectionLost, .cannotOpen, .busy]), "\(codes)")
            #expect(codes.contains(.connectionLost) || codes.contains(.cannotOpen), "\(codes)")

            try await server.start()
            // The pool reconnects with its own backoff; the store recovers without being recreated.
            try await firstSuccess(of: increment)
            committed += 1
            for _ in 0..<10 {
                try await increment()
                committed += 1
            }
            // Everything committed before, and nothing that failed, is in the table.
            #expect(try await store.read("c").record?.counts.failures == Int64(committed))
        }
    }

    /// A server that stops answering without closing its connections (SIGSTOP) must not hang a caller: every
    /// operation fails with a typed error within its timeout (plus the grace before the connection is closed), and
    /// the store recovers when the server answers again, with nothing committed lost.
    @Test func serverThatStopsAnsweringIsATypedErrorNotAHang() async throws {
        let server = try await TestPostgresServer.make()
        defer {
            server.freeze(false)
            server.abandon()
        }
        try await withRunningStores { stores in
            let store = try await stores.preparedStore(on: server, schema: "frozen") {
                $0.operationTimeout = .seconds(1)
                $0.connectTimeout = .seconds(1)
            }
            let increment = { @Sendable in try await addFailure(in: store) }
            var committed = 0
            for _ in 0..<10 {
                try await increment()
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
                    Issue.record("attempt \(attempt): no answer within 8 s from a store whose timeout is 1 s")
                    break
                }
                let error = try #require(answer, "attempt \(attempt): an update succeeded on a frozen server")
                #expect([.busy, .connectionLost, .cannotOpen].contains(error.code), "\(error)")
                #expect(elapsed < .seconds(3), "attempt \(attempt) took \(elapsed): \(error)")
                print("frozen server, attempt \(attempt): \(error.code) after \(elapsed)")
            }

            server.freeze(false)
            try await firstSuccess(of: increment)
            committed += 1
            // A write that timed out may still have committed when the server woke: at least every acknowledged
            // one is there, and at most the three that failed more.
            let failures = try #require(try await store.read("c").record?.counts.failures)
            #expect(failures >= Int64(committed) && failures <= Int64(committed + 3), "\(failures) vs \(committed)")
        }
    }
}

/// Adds one failure to circuit `c` in one read-modify-write.
private func addFailure(in store: PostgresCircuitStore) async throws {
    try await store.update("c") { record, now in
        var current = record ?? CircuitRecord(name: "c", createdAt: now)
        current.counts.failures += 1
        record = current
        return StoreUpdate(value: (), write: true)
    }
}

/// Retries `operation` every 100 ms until it succeeds; a store error still there after 20 s is thrown.
private func firstSuccess(of operation: () async throws -> Void) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while true {
        do {
            return try await operation()
        } catch is CircuitStoreError where ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// The task's value, or `nil` if it has none after `timeout` (the task is left running).
private func firstOf<T: Sendable>(_ task: Task<T, Never>, orAfter timeout: Duration) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    let answer = Answer<T>()
    Task { answer.set(await task.value) }
    while ContinuousClock.now < deadline {
        if let value = answer.get() { return value }
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
