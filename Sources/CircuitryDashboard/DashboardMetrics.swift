#if Dashboard
import Circuitry
import Prometheus

/// `GET /metrics`: the fleet's circuits in the Prometheus text format, with a bounded number of series whatever the
/// number of circuits.
///
/// - `circuitry_circuits{state}`: how many circuits are in each state (3 series);
/// - `circuitry_circuit_state{circuit}`: 0 closed, 1 half-open, 2 open, for the first ``maximumCircuits`` circuits
///   in name order (`--metrics-circuits N`, default 100; 0 for none), and `circuitry_circuits_not_listed` for how
///   many more there are;
/// - `circuitry_transitions_total{to_state}`: the transitions this server has seen commit, in any process, since it
///   started (3 series; a counter, which restarts at 0 with the server, as Prometheus expects).
package final class DashboardMetrics: Sendable {
    /// The most circuits given a series of their own.
    package let maximumCircuits: Int
    private let counters = PrometheusCollectorRegistry()
    private let transitions: [CircuitState: Counter]

    /// Metrics with at most `maximumCircuits` per-circuit series.
    package init(maximumCircuits: Int) {
        self.maximumCircuits = max(0, maximumCircuits)
        var transitions: [CircuitState: Counter] = [:]
        for state in CircuitState.allStates {
            transitions[state] = counters.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "circuitry", metricName: "transitions", unitName: "total",
                    helpText: "Transitions committed to the shared history since this server started, by the state "
                        + "entered."),
                labels: [("to_state", state.rawValue)])
        }
        self.transitions = transitions
    }

    /// Counts a transition the server saw commit.
    package func record(_ entry: HistoryEntry) {
        transitions[entry.transition.to]?.increment()
    }

    /// The text of a scrape, from the circuits as just read.
    package func text(circuits: [DashboardCircuit]) -> String {
        // The gauges are of this read only: a new registry each time, so that a forgotten circuit's series goes.
        let gauges = PrometheusCollectorRegistry()
        for state in CircuitState.allStates {
            gauges.makeGauge(
                descriptor: Self.descriptor("circuits", help: "Circuits in each state, as of this scrape."),
                labels: [("state", state.rawValue)]
            ).set(Double(circuits.count { $0.state == state }))
        }
        let listed = circuits.sorted { $0.name < $1.name }.prefix(maximumCircuits)
        for circuit in listed {
            gauges.makeGauge(
                descriptor: Self.descriptor(
                    "circuit_state",
                    help: "A circuit's state: 0 closed, 1 half-open, 2 open (the first \(maximumCircuits) circuits by "
                        + "name)."),
                labels: [("circuit", circuit.name)]
            ).set(Double(Self.value(of: circuit.state)))
        }
        gauges.makeGauge(
            descriptor: Self.descriptor(
                "circuits_not_listed",
                help: "Circuits beyond the first \(maximumCircuits), which have no circuitry_circuit_state series.")
        ).set(Double(circuits.count - listed.count))
        var buffer: [UInt8] = []
        gauges.emit(into: &buffer)
        counters.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// `circuitry_<name>`, a gauge without a unit.
    static func descriptor(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "circuitry", metricName: name, unitName: "", helpText: help)
    }

    /// The value of `circuitry_circuit_state`.
    static func value(of state: CircuitState) -> Int {
        switch state {
        case .closed: 0
        case .halfOpen: 1
        case .open: 2
        }
    }
}

extension CircuitState {
    /// Every state, in the order the metrics list them.
    static var allStates: [CircuitState] { [.closed, .halfOpen, .open] }
}
#endif
