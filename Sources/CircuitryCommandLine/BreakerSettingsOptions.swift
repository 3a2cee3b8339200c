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
            "How long the circuit stays open before it lets a probe through (default "
                + "\(DurationArgument.format(BreakerSettings().openDuration))).",
            valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    package var openFor: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "How long a probe may run before it counts as failed (default "
                + "\(DurationArgument.format(BreakerSettings().probeTimeout)), or longer than --timeout).",
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
            "The sliding window of --failure-rate and --slow-call-rate (default "
                + "\(DurationArgument.format(RateWindowPolicy().samplingDuration))).", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    package var rateWindow: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "Calls in the window before a rate can trip (default \(RateWindowPolicy().minimumThroughput)).",
            valueName: "n"))
    package var minimumThroughput: Int?

    @Option(
        help: ArgumentHelp(
            "Buckets the rate window is divided into (default \(RateWindowPolicy().buckets)).", valueName: "n"))
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
            throw ValidationError(optionMessage(error))
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

    /// The message of a setting out of range, in the words the user typed: the option and its value, never a Swift
    /// property path (`--failure-rate is 2; expected more than 0 and at most 1`, not
    /// `rateWindow.failureRateThreshold is 2.0`). The range comes from the library, which checks the settings.
    package func optionMessage(_ error: ConfigurationError) -> String {
        let number = { (value: Double?) in value.map(Self.text(of:)) ?? "unset" }
        let duration = { (value: DurationArgument?) in value?.description ?? "unset" }
        switch error.setting {
        case "failureThreshold": return Self.message("--failure-threshold", "\(failureThreshold)", error)
        case "closeThreshold": return Self.message("--close-threshold", "\(closeThreshold)", error)
        case "openDuration": return Self.message("--open-for", duration(openFor), error)
        case "probeTimeout": return Self.message("--probe-timeout", duration(probeTimeout), error)
        case "slowCallDuration": return Self.message("--slow-call", duration(slowCall), error)
        case "rateWindow.buckets": return Self.message("--rate-buckets", "\(rateBuckets ?? 0)", error)
        case "rateWindow.minimumThroughput":
            return Self.message("--minimum-throughput", "\(minimumThroughput ?? 0)", error)
        case "rateWindow.samplingDuration":
            let buckets = settings().rateWindow?.buckets ?? 0
            return Self.message("--rate-window", duration(rateWindow), error) + " (\(buckets) buckets)"
        case "rateWindow.failureRateThreshold": return Self.message("--failure-rate", number(failureRate), error)
        case "rateWindow.slowCallRateThreshold":
            guard error.message.contains("; expected ") else {
                return "--slow-call-rate needs --slow-call, the duration past which a call is slow"
            }
            return Self.message("--slow-call-rate", number(slowCallRate), error)
        case "openDurationPolicy":
            // The policy names its own parameter: "factor is 0.5; expected from 1 to 100".
            for (parameter, option, value) in [
                ("factor", "--backoff-factor", number(backoffFactor)),
                ("maximum", "--backoff-max", duration(backoffMax)),
                ("jitter", "--backoff-jitter", number(backoffJitter)),
            ] where error.message.hasPrefix(parameter + " is ") {
                return Self.message(option, value, error)
            }
            return "--backoff-factor, --backoff-max, --backoff-jitter: \(error.message)"
        default:
            // A setting these options cannot produce; named as the library names it rather than hidden.
            return error.description
        }
    }

    /// `<option> is <value>; expected <range>`, with the range of the library's message.
    private static func message(_ option: String, _ value: String, _ error: ConfigurationError) -> String {
        guard let range = error.message.range(of: "; expected ") else { return "\(option): \(error.message)" }
        return "\(option) is \(value); expected \(error.message[range.upperBound...])"
    }

    /// A number as it was most likely typed: `2`, not `2.0`.
    private static func text(of value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return "\(Int64(value))" }
        return "\(value)"
    }
}
