import Circuitry
import CircuitryPostgres
import Foundation
import Testing

/// The server goes away in the middle of a run and comes back (a server of its own, not the shared one).
@Suite struct PostgresRestartTests {
    @Test(arguments: [false, true])
    func serverRestartMidRun(crash: Bool) async throws {
        let server = try TestPostgresServer()
        defer { server.stop(immediate: true) }
        try await withRunningStores { stores in
            let store = try stores.store(on: server, schema: "restart") { $0.operationTimeout = .seconds(1) }
            let increment = { @Sendable () async throws in
                try await store.update("c") { record, now in
                    var current = record ?? CircuitRecord(name: "c", createdAt: now)
                    current.counts.failures += 1
                    record = current
                    return StoreUpdate(value: (), write: true)
                }
            }
            var committed = 0
            for _ in 0..<20 {
                try await increment()
                committed += 1
            }

            // `crash`: SIGQUIT, the server dies without a checkpoint and replays its WAL on start.
            server.stop(immediate: crash)
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

            try server.start()
            // The pool reconnects with its own backoff; the store recovers without being recreated.
            let deadline = ContinuousClock.now + .seconds(20)
            var recovered = false
            while !recovered && ContinuousClock.now < deadline {
                do {
                    try await increment()
                    committed += 1
                    recovered = true
                } catch is CircuitStoreError {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(recovered)
            for _ in 0..<10 {
                try await increment()
                committed += 1
            }
            // Everything committed before, and nothing that failed, is in the table.
            #expect(try await store.read("c").record?.counts.failures == Int64(committed))
        }
    }
}
