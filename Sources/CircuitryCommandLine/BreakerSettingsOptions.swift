import ArgumentParser
import Circuitry

/// The options that set a breaker's thresholds, durations and policies: `circuitry run`'s, and the cross-process
/// tests' worker's. The one mapping from these options to ``Circuitry/BreakerSettings``, with one set of defaults
/// (the library's own).
package struct BreakerSettingsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Consecutive failures that open the circuit.", valueName: "n"))
    package var failureThreshold: Int = BreakerSettings().failureThreshold

    @Option(help: ArgumentHelp("Successful probes that close a half-open circuit.", valueName: "n"))
    package var closeThreshold: Int = BreakerSettings().closeThreshold

    @Option(
        help: ArgumentHelp(
            "How long the circuit stays open before it lets a probe through (default 60s).",
            valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    package var openFor: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "How long a probe may run before it counts as failed (default 30s, or longer than --timeout).",
            valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    package var probeTimeout: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "Trip on the share of failing calls instead of consecutive failures: a rate from 0 to 1 (0.5 when only "
                + "--rate-window, --minimum-throughput or --rate-buckets is given).",
            valueName: "rate"))
    package var failureRate: Double?

    @Option(
        help: ArgumentHelp(
            "Trip when this share of calls is slower than --slow-call (a rate from 0 to 1).", valueName: "rate"))
    package var slowCallRate: Double?

    @Option(
        help: ArgumentHelp(
            "The sliding window of --failure-rate and --slow-call-rate (default 60s).", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    package var rateWindow: DurationArgument?

    @Option(
        help: ArgumentHelp("Calls in the window before a rate can trip (default 20).", valueName: "n"))
    package var minimumThroughput: Int?

    @Option(help: ArgumentHelp("Buckets the rate window is divided into (default 10).", valueName: "n"))
    package var rateBuckets: Int?

    @Option(
        help: ArgumentHelp(
            "A command that runs longer than this is slow: a failure, or toward --slow-call-rate.",
            valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    package var slowCall: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "Each opening lasts this many times longer than the last (up to --backoff-max), e.g. 2.",
            valueName: "factor"))
    package var backoffFactor: Double?

    @Option(
        help: ArgumentHelp(
            "The longest opening with --backoff-factor (default 10 × --open-for).", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    package var backoffMax: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "Spread each opening by ± this fraction with --backoff-factor (default 0.1).", valueName: "fraction"))
    package var backoffJitter: Double?

    package init() {}

    package func validate() throws {
        do {
            try settings().validate()
        } catch {
            throw ValidationError(Self.optionMessage(error))
        }
    }

    /// The breaker settings the options ask for. A probe timeout that was not given is at least
    /// `probeTimeoutAtLeast`: a probe's lease must outlive the work, or the probe would count as failed while it
    /// still runs.
    package func settings(probeTimeoutAtLeast: Duration? = nil) -> BreakerSettings {
        var settings = BreakerSettings(failureThreshold: failureThreshold, closeThreshold: closeThreshold)
        if let openFor { settings.openDuration = openFor.duration }
        if failureRate != nil || slowCallRate != nil || rateWindow != nil || minimumThroughput != nil
            || rateBuckets != nil
        {
            // The failure rate trips at 0.5 unless only a slow-call rate was asked for.
            var window = RateWindowPolicy(
                failureRateThreshold: failureRate ?? (slowCallRate == nil ? 0.5 : nil),
                slowCallRateThreshold: slowCallRate)
            if let rateWindow { window.samplingDuration = rateWindow.duration }
            if let minimumThroughput { window.minimumThroughput = minimumThroughput }
            if let rateBuckets { window.buckets = rateBuckets }
            settings.rateWindow = window
        }
        settings.slowCallDuration = slowCall?.duration
        if backoffFactor != nil || backoffMax != nil || backoffJitter != nil {
            settings.openDurationPolicy = .exponential(
                factor: backoffFactor ?? 2, maximum: backoffMax?.duration ?? settings.openDuration * 10,
                jitter: backoffJitter ?? 0.1)
        }
        if let probeTimeout {
            settings.probeTimeout = probeTimeout.duration
        } else if let probeTimeoutAtLeast {
            settings.probeTimeout = max(settings.probeTimeout, probeTimeoutAtLeast)
        }
        return settings
    }

    /// The message of a setting out of range, in the options' names.
    package static func optionMessage(_ error: ConfigurationError) -> String {
        let options = [
            "failureThreshold": "--failure-threshold", "closeThreshold": "--close-threshold",
            "openDuration": "--open-for", "probeTimeout": "--probe-timeout",
        ]
        guard let option = options[error.setting] else { return error.description }
        return error.message.replacingOccurrences(of: error.setting, with: option)
    }
}
