/// The columns of a stored circuit, in order: the one list from which every store derives its table or item layout,
/// its SQL, and its binding and decoding (``CircuitRow/subscript(_:)``, ``CircuitRow/init(reading:)``). Adding a field
/// to the record means adding a case here and a line in each of those two places.
///
/// Times are milliseconds since 1970; probe leases are `id@deadline`, rate-window buckets
/// `start:calls:failures:slow_calls` and failure reporters `id:failures`, each list separated by commas.
package enum CircuitColumn: Int, CaseIterable, Sendable {
    case name, state, generation, requests, successes, failures, consecutiveSuccesses, consecutiveFailures
    case expiresAt, probes, override, overrideUntil, overrideReason, openAttempts, window, updatedAt
    /// Added in SQLite schema version 2 and PostgreSQL schema version 2 (a migration adds it, empty, to older tables).
    case reporters

    /// What a column holds.
    package enum Kind: Sendable {
        case text, integer
    }

    /// The column's name in every store (`consecutive_failures`): SQL columns, DynamoDB attributes.
    package var name: String {
        switch self {
        case .name: "name"
        case .state: "state"
        case .generation: "generation"
        case .requests: "requests"
        case .successes: "successes"
        case .failures: "failures"
        case .consecutiveSuccesses: "consecutive_successes"
        case .consecutiveFailures: "consecutive_failures"
        case .expiresAt: "expires_at"
        case .probes: "probes"
        case .override: "override"
        case .overrideUntil: "override_until"
        case .overrideReason: "override_reason"
        case .openAttempts: "open_attempts"
        case .window: "window"
        case .updatedAt: "updated_at"
        case .reporters: "reporters"
        }
    }

    /// Text or integer.
    package var kind: Kind {
        switch self {
        case .name, .state, .probes, .override, .overrideReason, .window, .reporters: .text
        default: .integer
        }
    }

    /// Whether the column may be NULL (or, in a DynamoDB item, absent).
    package var isNullable: Bool {
        switch self {
        case .expiresAt, .override, .overrideUntil, .overrideReason: true
        default: false
        }
    }

    /// Whether the column is a list, which a store may leave out when it is empty (read back as empty).
    package var isList: Bool { self == .probes || self == .window || self == .reporters }

    /// Every column's name, comma-separated, in order: for `SELECT` and `INSERT` column lists. `quote` wraps each
    /// name (PostgreSQL quotes `"window"`, a reserved word there).
    package static func names(quote: (String) -> String = { $0 }) -> String {
        allCases.map { quote($0.name) }.joined(separator: ", ")
    }
}

/// One value of a stored column, as a store hands it over.
package enum ColumnValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    /// A value of a type the column never holds (a real number or a blob in SQLite), described for the error.
    case unreadable(String)
}

/// A ``CircuitRecord`` as the plain values of its ``CircuitColumn``s: the one mapping that every store uses, so that
/// operators read all of them alike.
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
    package var reporters: String

    package init(
        name: String, state: String, generation: Int64, requests: Int64, successes: Int64, failures: Int64,
        consecutiveSuccesses: Int64, consecutiveFailures: Int64, expiresAt: Int64?, probes: String, override: String?,
        overrideUntil: Int64?, overrideReason: String?, openAttempts: Int64, window: String, updatedAt: Int64,
        reporters: String = ""
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
        self.reporters = reporters
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
            updatedAt: record.updatedAt.millisecondsSince1970,
            reporters: record.reporters.map { "\($0.id):\($0.failures)" }.joined(separator: ","))
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
            openAttempts: openAttempts, window: try Self.window(window), reporters: try Self.reporters(reporters),
            updatedAt: Self.timestamp(updatedAt))
    }

    /// The value of `column`.
    package subscript(_ column: CircuitColumn) -> ColumnValue {
        func optional(_ value: Int64?) -> ColumnValue { value.map(ColumnValue.integer) ?? .null }
        func optional(_ value: String?) -> ColumnValue { value.map(ColumnValue.text) ?? .null }
        switch column {
        case .name: return .text(name)
        case .state: return .text(state)
        case .generation: return .integer(generation)
        case .requests: return .integer(requests)
        case .successes: return .integer(successes)
        case .failures: return .integer(failures)
        case .consecutiveSuccesses: return .integer(consecutiveSuccesses)
        case .consecutiveFailures: return .integer(consecutiveFailures)
        case .expiresAt: return optional(expiresAt)
        case .probes: return .text(probes)
        case .override: return optional(override)
        case .overrideUntil: return optional(overrideUntil)
        case .overrideReason: return optional(overrideReason)
        case .openAttempts: return .integer(openAttempts)
        case .window: return .text(window)
        case .updatedAt: return .integer(updatedAt)
        case .reporters: return .text(reporters)
        }
    }

    /// Reads a row column by column. A value of the wrong type, or NULL where the column does not allow it, is a
    /// ``CircuitStoreError`` with code ``CircuitStoreError/Code/corrupt`` naming the column; an absent list is empty.
    package init(reading value: (CircuitColumn) throws(CircuitStoreError) -> ColumnValue) throws(CircuitStoreError) {
        func integer(_ column: CircuitColumn) throws(CircuitStoreError) -> Int64? {
            switch try value(column) {
            case .integer(let number): return number
            case .null where column.isNullable: return nil
            case .null: throw Self.malformed("\(column.name) (NULL)")
            case .text(let text): throw Self.malformed("\(column.name) (\(text.debugDescription), not an integer)")
            case .unreadable(let what): throw Self.malformed("\(column.name) (\(what), not an integer)")
            }
        }
        func text(_ column: CircuitColumn) throws(CircuitStoreError) -> String? {
            switch try value(column) {
            case .text(let text): return text
            case .integer(let number): return "\(number)"
            case .null where column.isNullable: return nil
            case .null where column.isList: return ""
            case .null: throw Self.malformed("\(column.name) (NULL)")
            case .unreadable(let what): throw Self.malformed("\(column.name) (\(what), not text)")
            }
        }
        // Each non-nullable column has a value here: `integer` and `text` throw for its NULL.
        func required<T>(_ read: (CircuitColumn) throws(CircuitStoreError) -> T?, _ column: CircuitColumn)
            throws(CircuitStoreError) -> T
        {
            guard let value = try read(column) else { throw Self.malformed("\(column.name) (NULL)") }
            return value
        }
        self.init(
            name: try required(text, .name), state: try required(text, .state),
            generation: try required(integer, .generation), requests: try required(integer, .requests),
            successes: try required(integer, .successes), failures: try required(integer, .failures),
            consecutiveSuccesses: try required(integer, .consecutiveSuccesses),
            consecutiveFailures: try required(integer, .consecutiveFailures), expiresAt: try integer(.expiresAt),
            probes: try required(text, .probes), override: try text(.override),
            overrideUntil: try integer(.overrideUntil), overrideReason: try text(.overrideReason),
            openAttempts: try required(integer, .openAttempts), window: try required(text, .window),
            updatedAt: try required(integer, .updatedAt), reporters: try required(text, .reporters))
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

    private static func reporters(_ text: String) throws(CircuitStoreError) -> [FailureReporter] {
        let reporters = try fields(text, separator: ":", count: 2, what: "failure reporter")
        if let negative = reporters.first(where: { $0[1] < 0 }) {
            throw malformed("failure reporter with a negative count (\(negative[0]):\(negative[1]))")
        }
        return reporters.map { FailureReporter(id: $0[0], failures: $0[1]) }
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
