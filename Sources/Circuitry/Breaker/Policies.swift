/// How long a circuit stays open each time it opens.
///
/// The attempt count lives with the circuit (``CircuitRecord/openAttempts``): every opening without a close in
/// between is the next attempt, and closing starts again from 1. So every process of a host backs off together.
public struct OpenDurationPolicy: Sendable, CustomStringConvertible {
    let duration: @Sendable (_ attempt: Int64, _ base: Duration, _ jitterSeed: UInt64) -> Duration
    /// The policy in words, as settings print it: `fixed`, `exponential ×2.0 up to 10.0 seconds, jitter ±10 %`.
    public let description: String
    /// What is wrong with the policy's parameters, reported by ``BreakerSettings/validate()``.
    var problem: String? = nil

    /// Always ``BreakerSettings/openDuration``. The default.
    public static let fixed = OpenDurationPolicy(duration: { _, base, _ in base }, description: "fixed")

    /// ``BreakerSettings/openDuration`` × `factor`^(attempt − 1), at most `maximum`, then spread by ± `jitter`
    /// (a fraction: 0.1 is ±10 %) so that many circuits tripped together do not probe together.
    ///
    /// The jitter is derived from the circuit's name and generation, so the rules stay a pure function.
    public static func exponential(factor: Double = 2, maximum: Duration, jitter: Double = 0.1) -> OpenDurationPolicy {
        var problem: String?
        if !(factor >= 1 && factor <= 100) { problem = "factor is \(factor); expected from 1 to 100" }
        if maximum.milliseconds < 1 { problem = "maximum is \(maximum); expected at least 1 millisecond" }
        if !(jitter >= 0 && jitter < 1) { problem = "jitter is \(jitter); expected at least 0 and less than 1" }
        return OpenDurationPolicy(
            duration: { attempt, base, seed in
                let baseMilliseconds = Double(base.milliseconds)
                let grown = baseMilliseconds * pow(factor, Double(max(0, attempt.saturatingSubtract(1))))
                let capped = min(grown, Double(maximum.milliseconds))
                let spread = (Double(seed % 10_000) / 10_000 * 2 - 1) * jitter  // in [-jitter, +jitter)
                let milliseconds = max(1, (capped * (1 + spread)).rounded())
                // `Int64(_:)` traps at 2^63 and above, which a maximum near `Int64.max` milliseconds plus jitter reaches.
                return .milliseconds(milliseconds < 0x1p63 ? Int64(milliseconds) : .max)
            },
            description: "exponential ×\(factor) up to \(maximum), jitter ±\(Int(jitter * 100)) %", problem: problem)
    }

    /// Your own function of the attempt count (1 for the first opening since the last close).
    public static func custom(_ duration: @escaping @Sendable (_ attempt: Int64) -> Duration) -> OpenDurationPolicy {
        OpenDurationPolicy(duration: { attempt, _, _ in duration(attempt) }, description: "custom")
    }

    /// The open period for `attempt`, never shorter than 1 ms.
    func duration(attempt: Int64, base: Duration, seed: UInt64) -> Duration {
        max(.milliseconds(1), duration(attempt, base, seed))
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    // Repeated multiplication keeps Foundation out of the rules; exponents are small (opening attempts).
    var result = 1.0
    var remaining = Int(min(exponent, 64))
    while remaining > 0 {
        result *= base
        remaining -= 1
    }
    return result
}

/// Trips on the share of failing (or slow) calls over a sliding time window, as resilience4j's and Polly's
/// advanced breakers do, but shared by every process through the store.
///
/// The window is a small fixed array of time buckets inside the circuit's record (``CircuitRecord/window``), not a
/// row per call. With a rate window every outcome is written at once (successes are not batched), so the rate is
/// exact across processes.
public struct RateWindowPolicy: Sendable, Hashable {
    /// The length of the sliding window. Default 60 s.
    public var samplingDuration: Duration
    /// The fewest calls in the window before a rate can trip the circuit. Default 20.
    public var minimumThroughput: Int
    /// Trip when failures / calls in the window reach this (0 < rate ≤ 1); `nil`: failures do not trip by rate.
    /// Default 0.5.
    public var failureRateThreshold: Double?
    /// Trip when slow calls / calls reach this (0 < rate ≤ 1; needs ``BreakerSettings/slowCallDuration``).
    /// Default `nil`.
    public var slowCallRateThreshold: Double?
    /// How many buckets the window is divided into (1…60). Default 10: the window slides in steps of a tenth.
    public var buckets: Int

    /// Creates a rate-window policy.
    public init(
        samplingDuration: Duration = .seconds(60), minimumThroughput: Int = 20, failureRateThreshold: Double? = 0.5,
        slowCallRateThreshold: Double? = nil, buckets: Int = 10
    ) {
        self.samplingDuration = samplingDuration
        self.minimumThroughput = minimumThroughput
        self.failureRateThreshold = failureRateThreshold
        self.slowCallRateThreshold = slowCallRateThreshold
        self.buckets = buckets
    }
}

/// The calls of one slice of a circuit's rate window.
public struct WindowBucket: Sendable, Hashable {
    /// The start of the bucket's slice of time.
    public var start: Timestamp
    /// Calls whose outcome was recorded in the slice.
    public var calls: Int64
    /// Of those, failures.
    public var failures: Int64
    /// Of those, calls slower than ``BreakerSettings/slowCallDuration``.
    public var slowCalls: Int64

    /// Creates a bucket.
    public init(start: Timestamp, calls: Int64, failures: Int64, slowCalls: Int64) {
        self.start = start
        self.calls = calls
        self.failures = failures
        self.slowCalls = slowCalls
    }
}
