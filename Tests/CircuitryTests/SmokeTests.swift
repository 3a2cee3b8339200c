import Foundation
import Logging
import Testing

@testable import Circuitry

@Suite struct SmokeTests {
    @Test func sqliteRoundTrip() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("circuitry-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let clock = ManualClock()
        let store = try SQLiteCircuitStore(path: folder.appendingPathComponent("b.sqlite").path, clock: clock)
        var config = BreakerFactory.Configuration(settings: BreakerSettings(failureThreshold: 2))
        config.maximumBatchedSuccesses = 1
        let factory = try BreakerFactory(store: store, configuration: config, logger: Logger(label: "test"))
        let breaker = try factory.breaker(for: "x")
        struct Boom: Error {}
        _ = try? await breaker.execute { () async throws -> Int in throw Boom() }
        _ = try? await breaker.execute { () async throws -> Int in throw Boom() }
        #expect(try await breaker.state() == .open)
        await #expect(throws: CircuitRejected.self) { try await breaker.execute { 1 } }
        clock.advance(by: .seconds(61))
        #expect(try await breaker.state() == .halfOpen)
        #expect(try await breaker.execute { 5 } == 5)
        #expect(try await breaker.state() == .closed)
        let history = try await factory.history(of: "x")
        #expect(history.map(\.transition.to) == [.open, .halfOpen, .closed])
    }
}
