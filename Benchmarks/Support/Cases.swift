import Circuitry
import Logging

/// A benchmark run that cannot go on: a worker that failed or a case that misbehaved.
package struct BenchmarkFailure: Error, CustomStringConvertible {
    package var description: String

    package init(description: String) {
        self.description = description
    }
}

/// The failure the benchmark's failing calls throw.
package struct Boom: Error {
    package init() {}
}

/// A logger that prints nothing below error: the benchmark measures the breaker, not the log handler.
package let quietLogger: Logger = {
    var logger = Logger(label: "circuitry-bench")
    logger.logLevel = .error
    return logger
}()

/// A configuration that names circuits `base/tenant`, as a job queue does (the documented naming function).
package func tenantConfiguration(_ settings: BreakerSettings = BreakerSettings()) -> BreakerFactory.Configuration {
    var configuration = BreakerFactory.Configuration(settings: settings)
    configuration.naming = { base, context in "\(base)/\(context["tenant"] ?? "-")" }
    return configuration
}

/// Settings under which failures never open the circuit: every failure is a write and nothing else changes.
package let neverTrips = BreakerSettings(failureThreshold: Int.max)

/// The `maximumStaleness` of the benchmark's local-view case.
package let viewStaleness = Duration.milliseconds(100)

/// `execute` and acquire + record, succeeding, failing and rejected, on `store`.
package func breakerCases(prefix: String, store: some CircuitStore) async throws -> [TimedCase] {
    let healthy = try BreakerFactory(store: store, logger: quietLogger)
    let failing = try BreakerFactory(
        store: store, configuration: BreakerFactory.Configuration(settings: neverTrips), logger: quietLogger)
    let tripping = try BreakerFactory(
        store: store,
        configuration: BreakerFactory.Configuration(settings: BreakerSettings(openDuration: .seconds(3600))),
        logger: quietLogger)

    var viewing = BreakerFactory.Configuration()
    viewing.maximumStaleness = viewStaleness
    let viewed = try BreakerFactory(store: store, configuration: viewing, logger: quietLogger)
    let closed = try healthy.breaker(for: "closed")
    let closedViewed = try viewed.breaker(for: "closed-viewed")
    let twoStep = try healthy.breaker(for: "two-step")
    let failure = try failing.breaker(for: "failing")
    let failureTwoStep = try failing.breaker(for: "failing-two-step")
    let open = try tripping.breaker(for: "open")
    while try await open.state() != .open {
        do { try await open.execute { throw Boom() } } catch {}
    }

    return [
        TimedCase(name: "\(prefix).execute_success_ns") { count in
            for _ in 0..<count { try await closed.execute {} }
        },
        TimedCase(name: "\(prefix).execute_success_view_ns") { count in
            for _ in 0..<count { try await closedViewed.execute {} }
        },
        TimedCase(name: "\(prefix).two_step_success_ns") { count in
            for _ in 0..<count {
                let permit = try await twoStep.acquire()
                try await twoStep.record(.success, for: permit)
            }
        },
        TimedCase(name: "\(prefix).execute_rejected_open_ns") { count in
            for _ in 0..<count {
                do {
                    try await open.execute {}
                    throw BenchmarkFailure(description: "the open circuit admitted a call")
                } catch is CircuitRejected {}
            }
        },
        TimedCase(name: "\(prefix).execute_failure_ns") { count in
            for _ in 0..<count {
                do { try await failure.execute { throw Boom() } } catch is Boom {}
            }
        },
        TimedCase(name: "\(prefix).two_step_failure_ns") { count in
            for _ in 0..<count {
                let permit = try await failureTwoStep.acquire()
                try await failureTwoStep.record(.failure, for: permit)
            }
        },
    ]
}
