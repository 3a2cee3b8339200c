/// A ``CircuitRecord`` as the plain column values of a table row: the one mapping that every SQL store (SQLite and
/// PostgreSQL) uses, so that operators read both alike.
///
/// Columns, in order: `name, state, generation, requests, successes, failures, consecutive_successes,
/// consecutive_failures, expires_at, probes, override, override_until, override_reason, open_attempts, window,
/// updated_at`. Times are milliseconds since 1970; probe leases are `id@deadline` and rate-window buckets
/// `start:calls:failures:slow_calls`, each list separated by commas.
package struct CircuitRow: Sendable, Hashable {
    package var name: String
    package var state: String
    package var generation: Int64
    package var requests: Int64
    package var successes: Int64
    package var failures: Int64
    package var consecutiveSuccesses: Int64
    package var consecutiveFailures: Int64
    package var expiresAt: Int64?
    package var probes: String
    package var override: String?
    package var overrideUntil: Int64?
    package var overrideReason: String?
    package var openAttempts: Int64
    package var window: String
    package var updatedAt: Int64

    package init(
        name: String, state: String, generation: Int64, requests: Int64, successes: Int64, failures: Int64,
        consecutiveSuccesses: Int64, consecutiveFailures: Int64, expiresAt: Int64?, probes: String, override: String?,
        overrideUntil: Int64?, overrideReason: String?, openAttempts: Int64, window: String, updatedAt: Int64
    ) {
        self.name = name
        self.state = state
        self.generation = generation
        self.requests = requests
        self.successes = successes
        self.failures = failures
        self.consecutiveSuccesses = consecutiveSuccesses
        self.consecutiveFailures = consecutiveFailures
        self.expiresAt = expiresAt
        self.probes = probes
        self.override = override
        self.overrideUntil = overrideUntil
        self.overrideReason = overrideReason
        self.openAttempts = openAttempts
        self.window = window
        self.updatedAt = updatedAt
    }

    /// The row that stores `record`.
    package init(_ record: CircuitRecord) {
        let override: (kind: String?, until: Int64?, reason: String?)
        switch record.override {
        case nil: override = (nil, nil, nil)
        case .forcedOpen(let until, let reason): override = ("forced-open", until?.millisecondsSince1970, reason)
        case .forcedClosed(let reason): override = ("forced-closed", nil, reason)
        }
        self.init(
            name: record.name, state: record.state.rawValue, generation: record.generation,
            requests: record.counts.requests, successes: record.counts.successes, failures: record.counts.failures,
            consecutiveSuccesses: record.counts.consecutiveSuccesses,
            consecutiveFailures: record.counts.consecutiveFailures,
            expiresAt: record.expiresAt?.millisecondsSince1970,
            probes: record.probes.map { "\($0.id)@\($0.deadline.millisecondsSince1970)" }.joined(separator: ","),
            override: override.kind, overrideUntil: override.until, overrideReason: override.reason,
            openAttempts: record.openAttempts,
            window: record.window.map { "\($0.start.millisecondsSince1970):\($0.calls):\($0.failures):\($0.slowCalls)" }
                .joined(separator: ","),
            updatedAt: record.updatedAt.millisecondsSince1970)
    }

    /// The record this row stores; a ``CircuitStoreError`` with code ``CircuitStoreError/Code/corrupt`` if a
    /// value cannot be read or is out of range: an unknown state or override, an empty name, a negative generation,
    /// count or opening count, a malformed lease or rate-window list. Values at the top of their range are read as
    /// they are: the rules saturate instead of overflowing.
    package func record() throws(CircuitStoreError) -> CircuitRecord {
        guard !name.isEmpty else { throw Self.malformed("name (empty)") }
        let override: CircuitOverride?
        switch self.override {
        case nil: override = nil
        case "forced-open": override = .forcedOpen(until: overrideUntil.map(Self.timestamp), reason: overrideReason)
        case "forced-closed": override = .forcedClosed(reason: overrideReason)
        case let other?: throw Self.malformed("override \(other.debugDescription)")
        }
        for (column, value) in [
            ("generation", generation), ("requests", requests), ("successes", successes), ("failures", failures),
            ("consecutive_successes", consecutiveSuccesses), ("consecutive_failures", consecutiveFailures),
            ("open_attempts", openAttempts),
        ] where value < 0 {
            throw Self.malformed("\(column) (\(value), negative)")
        }
        return CircuitRecord(
            name: name, state: try Self.state(state), generation: generation,
            counts: CircuitCounts(
                requests: requests, successes: successes, failures: failures,
                consecutiveSuccesses: consecutiveSuccesses, consecutiveFailures: consecutiveFailures),
            expiresAt: expiresAt.map(Self.timestamp), probes: try Self.probes(probes), override: override,
            openAttempts: openAttempts, window: try Self.window(window), updatedAt: Self.timestamp(updatedAt))
    }

    /// A state name as the stores write it (`closed`, `open`, `half-open`).
    package static func state(_ text: String?) throws(CircuitStoreError) -> CircuitState {
        guard let text, let state = CircuitState(rawValue: text) else {
            throw malformed("state \(text?.debugDescription ?? "NULL")")
        }
        return state
    }

    private static func timestamp(_ milliseconds: Int64) -> Timestamp {
        Timestamp(millisecondsSince1970: milliseconds)
    }

    private static func probes(_ text: String) throws(CircuitStoreError) -> [ProbeLease] {
        try fields(text, separator: "@", count: 2, what: "probe lease").map {
            ProbeLease(id: $0[0], deadline: timestamp($0[1]))
        }
    }

    private static func window(_ text: String) throws(CircuitStoreError) -> [WindowBucket] {
        let buckets = try fields(text, separator: ":", count: 4, what: "rate-window bucket")
        if let negative = buckets.first(where: { $0.dropFirst().contains { $0 < 0 } }) {
            throw malformed(
                "rate-window bucket with a negative count (\(negative.map(String.init).joined(separator: ":")))")
        }
        return buckets.map { WindowBucket(start: timestamp($0[0]), calls: $0[1], failures: $0[2], slowCalls: $0[3]) }
    }

    /// Splits a comma-separated list of items of `count` integers separated by `separator`.
    private static func fields(_ text: String, separator: Character, count: Int, what: String)
        throws(CircuitStoreError) -> [[Int64]]
    {
        guard !text.isEmpty else { return [] }
        var items: [[Int64]] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: separator, omittingEmptySubsequences: false)
            let numbers = parts.compactMap { Int64($0) }
            guard parts.count == count, numbers.count == count else {
                throw malformed("\(what) \(String(item).debugDescription)")
            }
            items.append(numbers)
        }
        return items
    }

    /// The error for a stored value that cannot be read, naming `what` (a column, and the value when it helps).
    package static func malformed(_ what: String) -> CircuitStoreError {
        CircuitStoreError(code: .corrupt, message: "a row of the circuits table has an unreadable \(what)")
    }
}
