// The settings of other circuit-breaker libraries, in Circuitry's terms.

import Circuitry
import Logging

// snippet.hide
let logger = Logger(label: "migrating")
struct PaymentDeclined: Error {}
struct InvalidInput: Error {}
// snippet.show
// snippet.gobreaker
// gobreaker.Settings{Name: "payments", MaxRequests: 3, Interval: time.Minute, Timeout: 30 * time.Second,
//     ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures > 5 },
//     IsSuccessful: func(err error) bool { return err == nil || errors.Is(err, ErrPaymentDeclined) }}
let settings = BreakerSettings(
    closeThreshold: 3, openDuration: .seconds(30), resetInterval: .seconds(60),
    tripPolicy: .custom("more than 5 in a row") { counts, _ in counts.consecutiveFailures > 5 })
var configuration = BreakerFactory.Configuration(settings: settings)
configuration.classifiers["payments"] = { error in error is PaymentDeclined ? .success : nil }
configuration.onStateChange = { change in
    logger.info("\(change.transition.circuit): \(change.transition.from) -> \(change.transition.to)")
}
// snippet.end

// snippet.pybreaker
// pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60, success_threshold=1, exclude=[InvalidInput])
let pySettings = BreakerSettings(failureThreshold: 5, closeThreshold: 1, openDuration: .seconds(60))
var pyConfiguration = BreakerFactory.Configuration(settings: pySettings)
pyConfiguration.fallbackClassifier = { error in error is InvalidInput ? .success : nil }
// snippet.end
// snippet.hide
_ = try BreakerFactory(store: InMemoryCircuitStore(), configuration: configuration, logger: logger)
_ = try BreakerFactory(store: InMemoryCircuitStore(), configuration: pyConfiguration, logger: logger)
