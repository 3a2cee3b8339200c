import Metrics
import Synchronization

/// Which label the breaker's metrics carry in their `circuit` dimension.
public enum MetricsDimension: Sendable, Hashable {
    /// The base name (`send-email`): bounded cardinality however many tenants there are. The default.
    case baseName
    /// The full circuit name (`send-email/acme`): one series per tenant; opt in only when tenants are few.
    case circuitName
}

/// The swift-metrics objects of a factory. The application bootstraps the metrics system; the library never does.
///
/// | label | kind | dimensions |
/// |---|---|---|
/// | `circuitry_calls_admitted_total` | counter | circuit |
/// | `circuitry_calls_rejected_total` | counter | circuit, reason (`open`, `forced_open`, `probes_exhausted`) |
/// | `circuitry_outcomes_total` | counter | circuit, outcome (`success`, `failure`, `ignored`), as reported |
/// | `circuitry_transitions_total` | counter | circuit, to (`closed`, `open`, `half-open`) |
/// | `circuitry_state` | gauge | circuit — 0 closed, 1 half-open, 2 open, as last seen by this process |
/// | `circuitry_store_operation_duration` | timer | operation (`read`, `update`) |
/// | `circuitry_storage_errors_total` | counter | phase (`before_call`, `after_call`) |
///
/// Each object is created once per dimension value and then reused: nothing is created per call.
///
/// An operation by name (``BreakerFactory/reset(_:)``, ``BreakerFactory/forceOpen(_:until:reason:)``,
/// ``BreakerFactory/forceClosed(_:reason:)``) knows no base name: with ``MetricsDimension/baseName`` its transitions
/// are not counted under any circuit (a series labelled with the full name would be one per tenant); with
/// ``MetricsDimension/circuitName`` they are. ``BreakerFactory/flush()`` writes each batch as the breaker that
/// started it, so its transitions count under that breaker's base name.
final class BreakerMetrics: Sendable {
    struct PerCircuit: Sendable {
        let admitted: Counter
        let rejectedOpen: Counter
        let rejectedForced: Counter
        let rejectedProbes: Counter
        let success: Counter
        let failure: Counter
        let ignored: Counter
        let state: Gauge
        let toClosed: Counter
        let toOpen: Counter
        let toHalfOpen: Counter

        init(_ label: String, factory: any MetricsFactory) {
            func counter(_ name: String, _ dimension: (String, String)? = nil) -> Counter {
                let dimensions = [("circuit", label)] + (dimension.map { [$0] } ?? [])
                return Counter(label: name, dimensions: dimensions, factory: factory)
            }
            admitted = counter("circuitry_calls_admitted_total")
            rejectedOpen = counter("circuitry_calls_rejected_total", ("reason", "open"))
            rejectedForced = counter("circuitry_calls_rejected_total", ("reason", "forced_open"))
            rejectedProbes = counter("circuitry_calls_rejected_total", ("reason", "probes_exhausted"))
            success = counter("circuitry_outcomes_total", ("outcome", "success"))
            failure = counter("circuitry_outcomes_total", ("outcome", "failure"))
            ignored = counter("circuitry_outcomes_total", ("outcome", "ignored"))
            toClosed = counter("circuitry_transitions_total", ("to", "closed"))
            toOpen = counter("circuitry_transitions_total", ("to", "open"))
            toHalfOpen = counter("circuitry_transitions_total", ("to", "half-open"))
            state = Gauge(label: "circuitry_state", dimensions: [("circuit", label)], factory: factory)
        }

        func rejected(_ reason: CircuitRejected.Reason) {
            switch reason {
            case .open: rejectedOpen.increment()
            case .forcedOpen: rejectedForced.increment()
            case .probesExhausted: rejectedProbes.increment()
            }
        }

        func outcome(_ kind: OutcomeKind) {
            switch kind {
            case .success: success.increment()
            case .failure: failure.increment()
            case .ignored: ignored.increment()
            }
        }

        func transition(to state: CircuitState) {
            switch state {
            case .closed: toClosed.increment()
            case .open: toOpen.increment()
            case .halfOpen: toHalfOpen.increment()
            }
            self.state.record(Self.gaugeValue(state))
        }

        static func gaugeValue(_ state: CircuitState) -> Int {
            switch state {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        }
    }

    let dimension: MetricsDimension
    let factory: any MetricsFactory
    private let perCircuit = Mutex<[String: PerCircuit]>([:])
    let readDuration: Timer
    let updateDuration: Timer
    let errorsBeforeCall: Counter
    let errorsAfterCall: Counter

    /// - Parameter factory: The metrics backend; `nil` uses the one the application bootstrapped.
    init(dimension: MetricsDimension, factory: (any MetricsFactory)?) {
        let factory = factory ?? MetricsSystem.factory
        self.dimension = dimension
        self.factory = factory
        let operation = "circuitry_store_operation_duration"
        readDuration = Timer(label: operation, dimensions: [("operation", "read")], factory: factory)
        updateDuration = Timer(label: operation, dimensions: [("operation", "update")], factory: factory)
        let errors = "circuitry_storage_errors_total"
        errorsBeforeCall = Counter(label: errors, dimensions: [("phase", "before_call")], factory: factory)
        errorsAfterCall = Counter(label: errors, dimensions: [("phase", "after_call")], factory: factory)
    }

    /// The metrics of a circuit, created on first use of its dimension value.
    func circuit(name: String, baseName: String) -> PerCircuit {
        let label = dimension == .baseName ? baseName : name
        return perCircuit.withLock { cache in
            if let existing = cache[label] { return existing }
            let created = PerCircuit(label, factory: factory)
            cache[label] = created
            return created
        }
    }
}
