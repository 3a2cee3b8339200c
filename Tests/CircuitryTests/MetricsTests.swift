import Circuitry
import Logging
import MetricsTestKit
import Testing

@Suite struct MetricsTests {
    struct Boom: Error {}

    func factory(_ metrics: TestMetrics, dimension: MetricsDimension = .baseName) throws -> BreakerFactory {
        var configuration = BreakerFactory.Configuration(
            settings: BreakerSettings(failureThreshold: 2, openDuration: .seconds(10)))
        configuration.naming = { base, context in "\(base)/\(context["tenant"] ?? "")" }
        configuration.metricsFactory = metrics
        configuration.metricsDimension = dimension
        return try BreakerFactory(
            store: InMemoryCircuitStore(clock: ManualClock()), configuration: configuration,
            logger: Logger(label: "test"))
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
        #expect(updates.values.count == 2, "one write per failure; successes were batched")

        // Writing the batched successes of every tenant's circuit creates no series per circuit name.
        try await factory.flush()
        let circuitLabels = Set(
            (metrics.counters.map(\.dimensions) + metrics.recorders.map(\.dimensions)).flatMap { $0 }
                .filter { $0.0 == "circuit" }.map(\.1))
        #expect(circuitLabels == ["email"])
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
