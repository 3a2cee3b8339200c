// Code that uses breakers, tested without a file, a server or sleeping: InMemoryCircuitStore and ManualClock.

import Circuitry
import Logging
import Testing

// snippet.hide
struct UpstreamDown: Error {}
// snippet.show
@Test func opensAfterTwoFailuresAndProbesAfterThirtySeconds() async throws {
    let clock = ManualClock()
    let store = InMemoryCircuitStore(clock: clock)
    let settings = BreakerSettings(failureThreshold: 2, openDuration: .seconds(30))
    let breakers = try BreakerFactory(
        store: store, configuration: .init(settings: settings), logger: Logger(label: "test"))
    let breaker = try breakers.breaker(for: "payments")

    for _ in 1...2 {
        await #expect(throws: UpstreamDown.self) { try await breaker.execute { throw UpstreamDown() } }
    }
    #expect(try await breaker.state() == .open)
    let rejection = await #expect(throws: CircuitRejected.self) { try await breaker.execute {} }
    #expect(rejection?.retryAfter == clock.now() + .seconds(30))

    clock.advance(by: .seconds(30))  // the open period ends: no sleeping, no timers
    #expect(try await breaker.state() == .halfOpen)
    try await breaker.execute {}  // the probe succeeds
    #expect(try await breaker.state() == .closed)
}
