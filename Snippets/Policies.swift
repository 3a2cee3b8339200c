// Trip policies beyond consecutive failures, slow calls and open-duration backoff.

import Circuitry

var settings = BreakerSettings()
// snippet.custom-trip
// Trip when at least half of 20 or more calls failed.
settings.tripPolicy = .custom("half of 20") { counts, _ in
    counts.requests >= 20 && counts.failures * 2 >= counts.requests
}
// snippet.end
// snippet.rate-window
settings.rateWindow = RateWindowPolicy(
    samplingDuration: .seconds(60), minimumThroughput: 20, failureRateThreshold: 0.5)
// snippet.end
// snippet.slow-calls
settings.slowCallDuration = .seconds(2)
settings.rateWindow = RateWindowPolicy(failureRateThreshold: 0.5, slowCallRateThreshold: 0.8)
// snippet.end
// snippet.backoff
settings.openDurationPolicy = .exponential(factor: 2, maximum: .seconds(600), jitter: 0.1)  // 60 s, 120 s, 240 s …
settings.openDurationPolicy = .custom { attempt in .seconds(30 * attempt) }
// snippet.end
// snippet.hide
try settings.validate()
