import Circuitry
import Foundation

/// The `--json` form of a circuit: one object per circuit, on one line (JSON Lines).
///
/// The keys are those of the `circuit_status` view of the database, plus a few; they are stable: keys are added,
/// never renamed or removed (a test pins them, and checks that `Docs/cli.md` lists each). Times are ISO 8601 in UTC
/// with milliseconds; absent values are `null`, never left out.
struct CircuitJSON: Encodable, Equatable {
    var name: String
    /// `closed`, `open` or `half-open`, as of now (an open circuit whose time is up is `half-open`).
    var state: String
    /// The state as last written to the database (it lags `state` until the next call writes it).
    var storedState: String?
    var generation: Int64
    var requests: Int64
    var successes: Int64
    var failures: Int64
    var consecutiveSuccesses: Int64
    var consecutiveFailures: Int64
    var expiresAt: String?
    /// When an open circuit next admits a call; `null` when not open or forced open with no end.
    var retryAfter: String?
    /// Outstanding half-open probe leases.
    var probes: Int
    /// `forced-open`, `forced-closed` or `null`.
    var override: String?
    var overrideUntil: String?
    var overrideReason: String?
    var openAttempts: Int64
    var updatedAt: String
    /// The store's time when the circuit was read (the server's, for a server store): what "now" was for `state`
    /// and `retry_after`. Added in 0.1.0.
    var readAt: String
    /// The circuit's latest transition (`null` if the history has none): the reason and the actor of what put it in
    /// its state, when `to_state` is `state`. Added in 0.1.0.
    var lastTransition: TransitionJSON?
    /// When the circuit entered its state, if known: the time of ``CircuitReport/since``. Added in 0.1.0.
    var since: String?
    /// Why it is in its state, as `list` says it (``CircuitReport/why``). Added in 0.1.0.
    var why: String?
    /// Who put it there, as `list` says it (``CircuitReport/actor``). Added in 0.1.0.
    var by: String?
    /// What happens next and when, relative to `read_at`, as `list` says it (``CircuitReport/next``). Added in 0.1.0.
    var next: String?
    /// Only in `show`: the circuit's recent transitions, oldest first.
    var history: [TransitionJSON]?

    init(_ report: CircuitReport, history: [HistoryEntry]? = nil) {
        let snapshot = report.snapshot
        let record = snapshot.record
        name = record.name
        state = record.state.rawValue
        storedState = snapshot.storedState?.rawValue
        generation = record.generation
        requests = record.counts.requests
        successes = record.counts.successes
        failures = record.counts.failures
        consecutiveSuccesses = record.counts.consecutiveSuccesses
        consecutiveFailures = record.counts.consecutiveFailures
        expiresAt = record.expiresAt?.description
        retryAfter = snapshot.retryAfter?.description
        probes = record.probes.count
        switch record.override {
        case .forcedOpen(let until, let reason):
            (override, overrideUntil, overrideReason) = ("forced-open", until?.description, reason)
        case .forcedClosed(let reason):
            (override, overrideUntil, overrideReason) = ("forced-closed", nil, reason)
        case nil:
            (override, overrideUntil, overrideReason) = (nil, nil, nil)
        }
        openAttempts = record.openAttempts
        updatedAt = record.updatedAt.description
        readAt = snapshot.now.description
        lastTransition = report.lastTransition.map(TransitionJSON.init)
        since = report.since?.description
        why = report.why
        by = report.actor
        next = report.next
        self.history = history.map { $0.map(TransitionJSON.init) }
    }

    private enum CodingKeys: String, CodingKey {
        case name, state, generation, requests, successes, failures, probes, override, history, since, why, by, next
        case storedState = "stored_state"
        case consecutiveSuccesses = "consecutive_successes"
        case consecutiveFailures = "consecutive_failures"
        case expiresAt = "expires_at"
        case retryAfter = "retry_after"
        case overrideUntil = "override_until"
        case overrideReason = "override_reason"
        case openAttempts = "open_attempts"
        case updatedAt = "updated_at"
        case readAt = "read_at"
        case lastTransition = "last_transition"
    }

    func encode(to encoder: any Encoder) throws {
        // `encode` (not `encodeIfPresent`) so that an absent value is `null`: every object has every key.
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(state, forKey: .state)
        try container.encode(storedState, forKey: .storedState)
        try container.encode(generation, forKey: .generation)
        try container.encode(requests, forKey: .requests)
        try container.encode(successes, forKey: .successes)
        try container.encode(failures, forKey: .failures)
        try container.encode(consecutiveSuccesses, forKey: .consecutiveSuccesses)
        try container.encode(consecutiveFailures, forKey: .consecutiveFailures)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(retryAfter, forKey: .retryAfter)
        try container.encode(probes, forKey: .probes)
        try container.encode(override, forKey: .override)
        try container.encode(overrideUntil, forKey: .overrideUntil)
        try container.encode(overrideReason, forKey: .overrideReason)
        try container.encode(openAttempts, forKey: .openAttempts)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(readAt, forKey: .readAt)
        try container.encode(lastTransition, forKey: .lastTransition)
        try container.encode(since, forKey: .since)
        try container.encode(why, forKey: .why)
        try container.encode(by, forKey: .by)
        try container.encode(next, forKey: .next)
        try container.encodeIfPresent(history, forKey: .history)
    }
}

/// The `--json` form of one transition of the history: one object per line.
struct TransitionJSON: Encodable, Equatable {
    var id: Int64
    var at: String
    var circuit: String
    var fromState: String
    var toState: String
    var generation: Int64
    var reason: String
    var actor: String

    init(_ entry: HistoryEntry) {
        let transition = entry.transition
        id = entry.id
        at = transition.at.description
        circuit = transition.circuit
        fromState = transition.from.rawValue
        toState = transition.to.rawValue
        generation = transition.generation
        reason = transition.reason
        actor = transition.actor
    }

    private enum CodingKeys: String, CodingKey {
        case id, at, circuit, generation, reason, actor
        case fromState = "from_state"
        case toState = "to_state"
    }
}

/// Encodes values as single-line JSON with sorted keys, so that the output is the same from run to run.
enum JSONLines {
    static func line(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Our values hold only strings, integers, optionals and arrays of them: encoding cannot fail.
        let data = try! encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }
}
