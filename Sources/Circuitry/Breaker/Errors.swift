/// A setting or a name that the library cannot work with. Nothing was changed.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The setting or argument at fault, for example `failureThreshold` or `name`.
    public var setting: String
    /// What is wrong, in words.
    public var message: String

    /// Creates a configuration error.
    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }

    package static func invalidSetting(_ setting: String, _ value: String, expected: String) -> ConfigurationError {
        ConfigurationError(setting: setting, message: "\(setting) is \(value); expected \(expected)")
    }

    /// `invalid <setting>: <message>`.
    public var description: String { "invalid \(setting): \(message)" }
}

/// A call the breaker did not admit. The work was not run.
///
/// A job queue re-enqueues the job to run at ``retryAfter``:
/// ```swift
/// } catch let rejection as CircuitRejected {
///     try await queue.retry(job, at: rejection.retryAfter ?? .now.addingTimeInterval(60))
/// }
/// ```
public struct CircuitRejected: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the call was rejected.
    public enum Reason: Sendable, Hashable {
        /// The circuit is open.
        case open
        /// An operator forced the circuit open (with the reason they gave, if any).
        case forcedOpen(String?)
        /// The circuit is half-open and all of this period's probes are taken.
        case probesExhausted
    }

    /// The circuit's full name.
    public var circuit: String
    /// Why the call was rejected.
    public var reason: Reason
    /// When the circuit will next admit a call; `nil` when it was forced open with no end.
    public var retryAfter: Timestamp?

    /// Creates a rejection.
    public init(circuit: String, reason: Reason, retryAfter: Timestamp?) {
        self.circuit = circuit
        self.reason = reason
        self.retryAfter = retryAfter
    }

    /// `circuit "send-email/acme" is open; retry after 2026-11-29T12:30:05.000Z`.
    public var description: String {
        let why: String
        switch reason {
        case .open: why = "is open"
        case .forcedOpen(let text?): why = "was forced open (\(text))"
        case .forcedOpen(nil): why = "was forced open"
        case .probesExhausted: why = "is half-open and all its probes are taken"
        }
        let when = retryAfter.map { "retry after \($0)" } ?? "until an operator closes or resets it"
        return "circuit \"\(circuit)\" \(why); \(when)"
    }
}
