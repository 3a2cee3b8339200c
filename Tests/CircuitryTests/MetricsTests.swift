import Circuitry
import Logging
import MetricsTestKit
import Testing

@Suite struct MetricsTests {
    struct Boom: Error {}

    func factory(
        _ metrics: TestMetrics, dimension: MetricsDimension = .baseName,
        store: any CircuitStore = InMemoryCircuitStore(clock: ManualClock())
    ) throws -> BreakerFactory {
        var configuration = BreakerFactory.Configuration(
            settings: BreakerSettings(failureThreshold: 2, openDuration: .seconds(10)))
        configuration.naming = { base, context in "\(base)/\(context["tenant"] ?? "")" }
        configuration.metricsFactory = metrics
        configuration.metricsDimension = dimension
        return try BreakerFactory(store: store, configuration: configuration, logger: Logger(label: "test"))
    }

    /// The values of the `circuit` dimension of every counter and gauge created so far.
    func circuitLabels(_ metrics: TestMetrics) -> Set<String> {
        Set(
            (metrics.counters.map(\.dimensions) + metrics.recorders.map(\.dimensions)).flatMap { $0 }
                .filter { $0.0 == "circuit" }.map(\.1))
    }

    @Test func callsOutcomesTransitionsAndStateByBaseName() async throws {
        let metrics = TestMetrics()
        let factory = try factory(metrics)
        for tenant in ["acme", "globex"] {
            let breaker = try factory.breaker(for: "email", context: ["tenant": tenant])
            try await breaker.execute {}
            do { try await breaker.execute { throw CancellationError() } } catch is CancellationError {}
        }
        let failing = try factory.breaker(for: "email", context: ["tenant": "initech"])
        for _ in 0..<3 {
            do { try await failing.execute { throw Boom() } } catch is Boom {} catch is CircuitRejected {}
        }
        let circuit = ("circuit", "email")
        #expect(try metrics.expectCounter("circuitry_calls_admitted_total", [circuit]).totalValue == 6)
        let rejected = try metrics.expectCounter("circuitry_calls_rejected_total", [circuit, ("reason", "open")])
        #expect(rejected.totalValue == 1)
        #expect(
            try metrics.expectCounter("circuitry_outcomes_total", [circuit, ("outcome", "success")]).totalValue == 2)
        #expect(
            try metrics.expectCounter("circuitry_outcomes_total", [circuit, ("outcome", "ignored")]).totalValue == 2)
        #expect(
            try metrics.expectCounter("circuitry_outcomes_total", [circuit, ("outcome", "failure")]).totalValue == 2)
        #expect(try metrics.expectCounter("circuitry_transitions_total", [circuit, ("to", "open")]).totalValue == 1)
        #expect(try metrics.expectGauge("circuitry_state", [circuit]).lastValue == 2)
        let updates = try metrics.expectTimer("circuitry_store_operation_duration", [("operation", "update")])
        #expect(updates.values.count == 5, "one write per circuit's first call and per failure; successes were batched")

        // Writing the batched successes of every tenant's circuit creates no series per circuit name.
        try await factory.flush()
        #expect(circuitLabels(metrics) == ["email"])
    }

    /// Operator actions by name, and transitions that a flush commits, with the default base-name dimension.
    @Test func operationsByNameAndFlushesCreateNoSeriesPerCircuit() async throws {
        let clock = ManualClock()
        let store = InMemoryCircuitStore(clock: clock)
        let metrics = TestMetrics()
        let factory = try factory(metrics, store: store)
        let other = try self.factory(TestMetrics(), store: store)
        try await factory.breaker(for: "email", context: ["tenant": "acme"]).execute {}  // batched
        for _ in 0..<2 {
            do { try await other.breaker(for: "email", context: ["tenant": "acme"]).execute { throw Boom() } } catch {}
        }
        clock.advance(by: .seconds(10))
        try await factory.flush()  // commits open → half-open, as the breaker that batched
        #expect(
            try metrics.expectCounter("circuitry_transitions_total", [("circuit", "email"), ("to", "half-open")])
                .totalValue == 1)
        try await factory.reset("email/acme")
        try await factory.forceOpen("email/globex", reason: "maintenance")
        try await factory.forceClosed("email/initech")
        try await factory.reset("email/globex")
        #expect(circuitLabels(metrics) == ["email"])
    }

    @Test func operationsByNameCountUnderTheCircuitNameWhenThatIsTheDimension() async throws {
        let metrics = TestMetrics()
        let factory = try factory(metrics, dimension: .circuitName)
        try await factory.forceOpen("email/globex")
        #expect(
            try metrics.expectCounter("circuitry_transitions_total", [("circuit", "email/globex"), ("to", "open")])
                .totalValue == 1)
    }

    @Test func perCircuitDimensionIsOptIn() async throws {
        let metrics = TestMetrics()
        let factory = try factory(metrics, dimension: .circuitName)
        try await factory.breaker(for: "email", context: ["tenant": "acme"]).execute {}
        #expect(
            try metrics.expectCounter("circuitry_calls_admitted_total", [("circuit", "email/acme")]).totalValue == 1)
        #expect(throws: (any Error).self) {
            try metrics.expectCounter("circuitry_calls_admitted_total", [("circuit", "email")])
        }
    }
}
