/// The counts of one generation of a circuit.
///
/// Every state change and every reset interval starts a new generation with zero counts.
/// Failures are exact at all times. Successes of a closed circuit may be batched by each process and become
/// exact after a flush (see ``BreakerFactory/flush()``).
public struct CircuitCounts: Sendable, Hashable, Codable {
    /// Calls whose success or failure was recorded in this generation.
    public var requests: Int64
    /// Successful calls in this generation.
    public var successes: Int64
    /// Failed calls in this generation.
    public var failures: Int64
    /// Successes since the last failure.
    public var consecutiveSuccesses: Int64
    /// Failures since the last success.
    public var consecutiveFailures: Int64

    /// Counts that are all zero.
    public static let zero = CircuitCounts(
        requests: 0, successes: 0, failures: 0, consecutiveSuccesses: 0, consecutiveFailures: 0)

    /// Creates counts.
    public init(
        requests: Int64, successes: Int64, failures: Int64, consecutiveSuccesses: Int64, consecutiveFailures: Int64
    ) {
        self.requests = requests
        self.successes = successes
        self.failures = failures
        self.consecutiveSuccesses = consecutiveSuccesses
        self.consecutiveFailures = consecutiveFailures
    }

    // Counts saturate at `Int64.max` instead of trapping: a stored row may hold any value.
    mutating func recordSuccess() {
        requests = requests.saturatingAdd(1)
        successes = successes.saturatingAdd(1)
        consecutiveSuccesses = consecutiveSuccesses.saturatingAdd(1)
        consecutiveFailures = 0
    }

    mutating func recordFailure() {
        requests = requests.saturatingAdd(1)
        failures = failures.saturatingAdd(1)
        consecutiveFailures = consecutiveFailures.saturatingAdd(1)
        consecutiveSuccesses = 0
    }
}

/// A half-open probe that was admitted and has not reported yet.
///
/// A lease that reaches its deadline without a report counts as a failed probe, so a worker that crashes or
/// hangs mid-probe cannot wedge the circuit.
public struct ProbeLease: Sendable, Hashable, Codable {
    /// Identifies the lease within its circuit; the permit carries it.
    public var id: Int64
    /// When the lease expires and counts as a failure.
    public var deadline: Timestamp

    /// Creates a lease.
    public init(id: Int64, deadline: Timestamp) {
        self.id = id
        self.deadline = deadline
    }
}

/// A manual override, stored with the circuit so that every process honours it.
public enum CircuitOverride: Sendable, Hashable {
    /// The circuit is held open, until the given instant or (when `nil`) until it is reset or forced closed.
    case forcedOpen(until: Timestamp?, reason: String?)
    /// The circuit is held closed: calls are admitted and counted, but the circuit never trips.
    case forcedClosed(reason: String?)

    /// The reason an operator gave, if any.
    public var reason: String? {
        switch self {
        case .forcedOpen(_, let reason), .forcedClosed(let reason): reason
        }
    }
}

/// Everything a store keeps about one circuit.
///
/// Stores treat the record as a value: they read it, hand it to the state machine and write back what it
/// returns, inside one short atomic read-modify-write.
public struct CircuitRecord: Sendable, Hashable {
    /// The circuit's full name (the result of the naming function).
    public var name: String
    /// The stored state. An open circuit whose expiry has passed is half-open when next evaluated.
    public var state: CircuitState
    /// Increases by one with every state change and every elapsed reset interval; an outcome is counted only in the
    /// generation its call was admitted in.
    ///
    /// A circuit's first generation is drawn when its record is created, by its first admission or override: 2^41 ×
    /// the hours since 1970, plus 1, plus a random number below 2^40. Forgetting or pruning a circuit deletes its
    /// record, and this is what keeps the circuit's next life from accepting outcomes of calls admitted in the
    /// earlier one: a life that starts in a later hour starts above every generation of the earlier life, and one that
    /// starts in the same hour at a random point of a range 2^40 wide (odds of a match about one in 10^12).
    public var generation: Int64
    /// The counts of the current generation.
    public var counts: CircuitCounts
    /// When open: when the circuit lets a probe through. When closed with a reset interval: when the counts are
    /// cleared. Otherwise `nil`.
    public var expiresAt: Timestamp?
    /// The outstanding probe leases of the current half-open period.
    public var probes: [ProbeLease]
    /// The manual override, if any.
    public var override: CircuitOverride?
    /// How many times in a row the circuit has opened without closing in between (drives open-duration policies).
    public var openAttempts: Int64
    /// The rate window's buckets, oldest first (empty unless ``BreakerSettings/rateWindow`` is set).
    public var window: [WindowBucket]
    /// The processes whose failures the closed circuit counted since its last success (with a rate window: since the
    /// window was last empty), at most ``BreakerSettings/minimumReporters`` of them; empty unless that is above 1.
    public var reporters: [FailureReporter]
    /// When the record was last written.
    public var updatedAt: Timestamp

    /// A new closed circuit with zero counts.
    public init(name: String, createdAt: Timestamp) {
        self.init(
            name: name, state: .closed, generation: 1, counts: .zero, expiresAt: nil, probes: [], override: nil,
            openAttempts: 0, window: [], reporters: [], updatedAt: createdAt)
    }

    /// Creates a record from stored fields.
    public init(
        name: String, state: CircuitState, generation: Int64, counts: CircuitCounts, expiresAt: Timestamp?,
        probes: [ProbeLease], override: CircuitOverride?, openAttempts: Int64, window: [WindowBucket] = [],
        reporters: [FailureReporter] = [], updatedAt: Timestamp
    ) {
        self.name = name
        self.state = state
        self.generation = generation
        self.counts = counts
        self.expiresAt = expiresAt
        self.probes = probes
        self.override = override
        self.openAttempts = openAttempts
        self.window = window
        self.reporters = reporters
        self.updatedAt = updatedAt
    }
}

/// A process whose failures a closed circuit counted, for ``BreakerSettings/minimumReporters``.
public struct FailureReporter: Sendable, Hashable {
    /// The reporter's identity (``BreakerFactory/Configuration/reporter``) hashed to 64 bits (FNV-1a of its UTF-8,
    /// the same in every process and build).
    public var id: Int64
    /// Its failures counted since the list was last cleared.
    public var failures: Int64

    /// Creates a reporter entry.
    public init(id: Int64, failures: Int64) {
        self.id = id
        self.failures = failures
    }

    /// The ``id`` of a reporter identity: FNV-1a (64 bits) of its UTF-8 bytes.
    public static func id(of reporter: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in reporter.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }
}

extension CircuitRecord {
    /// Whether pruning may remove the record: closed, no override, last written before `cutoff`.
    public func isIdle(before cutoff: Timestamp) -> Bool {
        state == .closed && override == nil && updatedAt < cutoff
    }
}

/// One committed change of a circuit's state.
public struct CircuitTransition: Sendable, Hashable {
    /// The circuit's full name.
    public var circuit: String
    /// The state before.
    public var from: CircuitState
    /// The state after.
    public var to: CircuitState
    /// The generation the transition started.
    public var generation: Int64
    /// When it was committed (by the store's clock).
    public var at: Timestamp
    /// Why, in words: `3 consecutive failures`, `probe lease expired`, `forced open: maintenance`.
    public var reason: String
    /// Which process committed it (`pid 4242 on host-a` by default; see ``BreakerFactory/Configuration/actor``).
    public var actor: String

    /// Creates a transition.
    public init(
        circuit: String, from: CircuitState, to: CircuitState, generation: Int64, at: Timestamp, reason: String,
        actor: String
    ) {
        self.circuit = circuit
        self.from = from
        self.to = to
        self.generation = generation
        self.at = at
        self.reason = reason
        self.actor = actor
    }
}

/// A transition as the store's history keeps it.
public struct HistoryEntry: Sendable, Hashable {
    /// Increasing in commit order within one store.
    public var id: Int64
    /// The transition.
    public var transition: CircuitTransition

    /// Creates a history entry.
    public init(id: Int64, transition: CircuitTransition) {
        self.id = id
        self.transition = transition
    }
}
