/// Decides, after each failure of a closed circuit, whether the circuit opens.
///
/// The default, ``consecutiveFailures``, trips when `counts.consecutiveFailures >= failureThreshold`.
/// A custom policy sees the counts of the current generation; failures are always exact there, successes are
/// exact up to what other processes have not flushed yet (see ``CircuitCounts``).
public struct TripPolicy: Sendable {
    /// A short name for logs and the transition history.
    public let name: String
    let shouldTrip: @Sendable (CircuitCounts, Int) -> Bool
    /// Why the circuit opened, for logs and the transition history.
    let reason: @Sendable (CircuitCounts) -> String

    /// Trips when `consecutiveFailures >= failureThreshold`.
    public static let consecutiveFailures = TripPolicy(
        name: "consecutive failures",
        shouldTrip: { counts, threshold in counts.consecutiveFailures >= Int64(threshold) },
        reason: { counts in "\(counts.consecutiveFailures) consecutive failures" })

    /// A policy of your own: `shouldTrip(counts, failureThreshold)` is asked after every recorded failure.
    ///
    /// ```swift
    /// // Trip when at least half of 20 or more calls failed.
    /// settings.tripPolicy = .custom("half of 20") { counts, _ in
    ///     counts.requests >= 20 && counts.failures * 2 >= counts.requests
    /// }
    /// ```
    public static func custom(
        _ name: String = "custom", shouldTrip: @escaping @Sendable (CircuitCounts, _ failureThreshold: Int) -> Bool
    ) -> TripPolicy {
        TripPolicy(
            name: name, shouldTrip: shouldTrip,
            reason: { counts in "trip policy \"\(name)\" after \(counts.failures) of \(counts.requests) calls failed" })
    }
}

/// How a breaker trips, stays open and closes again. The defaults are meant to be used as they are.
///
/// Every process that shares a circuit should use the same settings: the record is shared, the settings are not.
public struct BreakerSettings: Sendable {
    /// Failures (as counted by ``tripPolicy``) that open the circuit. Default 5; at least 1.
    public var failureThreshold: Int
    /// Successful probes that close a half-open circuit; also the number of probes admitted per half-open period.
    /// Default 1; from 1 to ``maximumCloseThreshold``.
    public var closeThreshold: Int
    /// How long the circuit stays open before it lets probes through. Default 60 s; at least 1 ms.
    public var openDuration: Duration
    /// How long an admitted probe may run without reporting before its lease expires and counts as a failure.
    /// Default 30 s; at least 1 ms.
    public var probeTimeout: Duration
    /// When set, the counts of a closed circuit are cleared this often (a new generation). Default `nil`: never.
    public var resetInterval: Duration?
    /// Decides when a closed circuit opens. Default ``TripPolicy/consecutiveFailures``. Not used when
    /// ``rateWindow`` is set.
    public var tripPolicy: TripPolicy
    /// How long each opening lasts. Default ``OpenDurationPolicy/fixed`` (``openDuration`` every time).
    public var openDurationPolicy: OpenDurationPolicy
    /// When set, the circuit trips on failure (or slow-call) rates over a sliding window instead of
    /// ``tripPolicy``. Default `nil`.
    public var rateWindow: RateWindowPolicy?
    /// Calls that take longer than this are slow: they count as failures, or toward
    /// ``RateWindowPolicy/slowCallRateThreshold`` when that is set. Default `nil`: no call is slow.
    public var slowCallDuration: Duration?
    /// How many distinct reporters (processes or hosts: ``BreakerFactory/Configuration/reporter``) the failures that
    /// trip a closed circuit must come from. Default 1: any failures trip it. With 2 or more, one bad worker (a broken
    /// network, a full disk, a bad deploy) that fails every call cannot open the circuit for the whole fleet, however
    /// many failures it reports: the trip policy must say so *and* the failures since the circuit's last success (with
    /// a rate window: since the window was last empty) must come from this many reporters. From 1 to
    /// ``maximumMinimumReporters``.
    ///
    /// Meanwhile a lone failing worker's calls still run and fail (the shared circuit stays closed for it); it may
    /// keep a breaker of its own, in memory (an ``InMemoryCircuitStore``), to stop calling. A failed half-open probe
    /// and an upstream's request to wait (``CallOutcome/failure(openUntil:)``) open the circuit whoever reports them.
    ///
    /// Pick K below the number of workers that call the upstream at once, or a real outage seen by fewer than K of
    /// them never trips; 2 covers a single bad worker, 3 a bad host of a fleet spread over several hosts (with the
    /// host name as the reporter). The record keeps at most K reporters, so its size does not grow with the fleet.
    public var minimumReporters: Int = 1

    /// The largest accepted ``closeThreshold``: each admitted probe is a lease stored with the circuit.
    public static let maximumCloseThreshold = 100

    /// The largest accepted ``minimumReporters``: each counted reporter is stored with the circuit.
    public static let maximumMinimumReporters = 32

    /// Creates settings; call ``validate()`` (the factory does) to check them.
    public init(
        failureThreshold: Int = 5,
        closeThreshold: Int = 1,
        openDuration: Duration = .seconds(60),
        probeTimeout: Duration = .seconds(30),
        resetInterval: Duration? = nil,
        tripPolicy: TripPolicy = .consecutiveFailures,
        openDurationPolicy: OpenDurationPolicy = .fixed,
        rateWindow: RateWindowPolicy? = nil,
        slowCallDuration: Duration? = nil
    ) {
        self.failureThreshold = failureThreshold
        self.closeThreshold = closeThreshold
        self.openDuration = openDuration
        self.probeTimeout = probeTimeout
        self.resetInterval = resetInterval
        self.tripPolicy = tripPolicy
        self.openDurationPolicy = openDurationPolicy
        self.rateWindow = rateWindow
        self.slowCallDuration = slowCallDuration
    }

    /// Throws a ``ConfigurationError`` naming the first setting that is out of range.
    public func validate() throws(ConfigurationError) {
        guard failureThreshold >= 1 else {
            throw .invalidSetting("failureThreshold", "\(failureThreshold)", expected: "at least 1")
        }
        guard (1...Self.maximumCloseThreshold).contains(closeThreshold) else {
            throw .invalidSetting(
                "closeThreshold", "\(closeThreshold)", expected: "from 1 to \(Self.maximumCloseThreshold)")
        }
        try Self.requirePositive(openDuration, "openDuration")
        try Self.requirePositive(probeTimeout, "probeTimeout")
        if let resetInterval { try Self.requirePositive(resetInterval, "resetInterval") }
        if let slowCallDuration { try Self.requirePositive(slowCallDuration, "slowCallDuration") }
        if let problem = openDurationPolicy.problem {
            throw ConfigurationError(setting: "openDurationPolicy", message: problem)
        }
        if let rateWindow { try validate(rateWindow) }
        guard (1...Self.maximumMinimumReporters).contains(minimumReporters) else {
            throw .invalidSetting(
                "minimumReporters", "\(minimumReporters)", expected: "from 1 to \(Self.maximumMinimumReporters)")
        }
    }

    private func validate(_ window: RateWindowPolicy) throws(ConfigurationError) {
        guard (1...60).contains(window.buckets) else {
            throw .invalidSetting("rateWindow.buckets", "\(window.buckets)", expected: "from 1 to 60")
        }
        guard window.samplingDuration.milliseconds >= Int64(window.buckets) else {
            throw .invalidSetting(
                "rateWindow.samplingDuration", "\(window.samplingDuration)",
                expected: "at least 1 millisecond per bucket")
        }
        guard window.minimumThroughput >= 1 else {
            throw .invalidSetting(
                "rateWindow.minimumThroughput", "\(window.minimumThroughput)", expected: "at least 1")
        }
        for (name, rate) in [
            ("failureRateThreshold", window.failureRateThreshold),
            ("slowCallRateThreshold", window.slowCallRateThreshold),
        ] {
            if let rate, !(rate > 0 && rate <= 1) {
                throw .invalidSetting("rateWindow.\(name)", "\(rate)", expected: "more than 0 and at most 1")
            }
        }
        guard window.failureRateThreshold != nil || window.slowCallRateThreshold != nil else {
            throw ConfigurationError(
                setting: "rateWindow", message: "a rate window needs a failure-rate or a slow-call-rate threshold")
        }
        if window.slowCallRateThreshold != nil, slowCallDuration == nil {
            throw ConfigurationError(
                setting: "rateWindow.slowCallRateThreshold", message: "a slow-call rate needs slowCallDuration")
        }
    }

    /// Whether every success must be written at once because a decision depends on it.
    var recordsEverySuccess: Bool { rateWindow != nil }

    private static func requirePositive(_ duration: Duration, _ name: String) throws(ConfigurationError) {
        guard duration.milliseconds >= 1 else {
            throw .invalidSetting(name, "\(duration)", expected: "at least 1 millisecond")
        }
    }
}
