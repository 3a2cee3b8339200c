/// What happened to a call, as the state machine counts it.
enum OutcomeKind: Sendable, Hashable {
    case success
    case failure
    /// Neither success nor failure (cancellation): releases a probe lease, changes no count.
    case ignored
}

/// A finished call as the rules see it.
struct CallReport: Sendable, Hashable {
    var outcome: OutcomeKind
    /// When the call was admitted (the store's time).
    var admittedAt: Timestamp
    /// How long the work ran, when measured by the caller; otherwise the time since ``admittedAt`` counts.
    var duration: Duration? = nil
    /// The upstream asked not to be called before this instant (HTTP 429 with Retry-After, say).
    var openUntil: Timestamp? = nil

    /// Whether the call was slower than `limit`.
    func isSlow(limit: Duration?, now: Timestamp) -> Bool {
        guard let limit else { return false }
        return (duration ?? now - admittedAt) > limit
    }
}

/// Successes of one generation of a closed circuit that a process counted without writing them.
struct BatchedSuccesses: Sendable, Hashable {
    var generation: Int64
    var count: Int64
    /// The generation's stored failure count when the last of them was counted.
    var failuresSeen: Int64
    /// How many of them were counted while the stored failure count was ``failuresSeen``: the ones that came after the
    /// last failure stored then, which continue its run of consecutive successes.
    var sinceFailure: Int64

    /// One success, counted when the stored record had `failures` failures.
    init(generation: Int64, failures: Int64) {
        self.generation = generation
        count = 1
        failuresSeen = failures
        sinceFailure = 1
    }

    /// Counts one more success, seen with the stored record at `failures` failures: if a failure was stored since the
    /// last one, the earlier successes of the batch came before it and no longer continue the run.
    mutating func add(failures: Int64) {
        count = count.saturatingAdd(1)
        if failures != failuresSeen {
            failuresSeen = failures
            sinceFailure = 0
        }
        sinceFailure = sinceFailure.saturatingAdd(1)
    }

    /// Puts `older` (a batch of the same generation taken before this one began) back in front of this one.
    mutating func prepend(_ older: BatchedSuccesses) {
        count = count.saturatingAdd(older.count)
        if older.failuresSeen == failuresSeen { sinceFailure = sinceFailure.saturatingAdd(older.sinceFailure) }
    }
}

/// The decision on one call.
enum Admission: Sendable, Hashable {
    /// Run the call; report its outcome with this generation (and lease, when it is a half-open probe).
    case admitted(generation: Int64, lease: Int64?)
    /// Do not run the call.
    case rejected(CircuitRejected)
}

/// The circuit breaker's rules, as one pure function of (record, event, now, settings).
///
/// It knows nothing of storage: a store reads a record, the breaker applies one of these methods to it inside the
/// store's atomic read-modify-write, and the store writes back the result and the transitions it returns.
/// Time is an argument; nothing here reads a clock, sleeps or keeps state of its own.
struct CircuitStateMachine: Sendable {
    let settings: BreakerSettings
    /// Written into every transition: which process committed it.
    let actor: String
    /// The ``FailureReporter/id`` of this process's failures (``BreakerSettings/minimumReporters``).
    var reporter: Int64 = 0

    // MARK: Records

    /// The first record of a circuit that has none (never written, or forgotten or pruned since): closed, zero
    /// counts, in a generation that no earlier life of the name can have reached (see ``firstGeneration(at:nonce:)``).
    func newRecord(name: String, now: Timestamp, nonce: UInt64) -> CircuitRecord {
        var record = CircuitRecord(name: name, createdAt: now)
        record.generation = Self.firstGeneration(at: now, nonce: nonce)
        record.expiresAt = settings.resetInterval.map { now + $0 }
        return record
    }

    /// The first generation of a new life of a circuit: 2^41 × the hours since 1970, plus 1, plus a random number
    /// below 2^40 (`nonce`).
    ///
    /// A permit carries the generation it was admitted in, and an outcome is counted only in that generation. When a
    /// circuit is forgotten or pruned its record is deleted, so its next life cannot know where the last one ended.
    /// This rule makes the lives of a name disjoint anyway: a life that starts in a later hour of the clock than an
    /// earlier one begins above every generation the earlier one can reach (a life would need 2^40 generations to
    /// cross into the next hour's range); one that starts in the same hour begins at a random point of a range 2^40
    /// wide, so a permit of the earlier life matches it with odds of about one in 10^12 per generation it moved
    /// through. (After a backward clock step of an hour or more, a later life may start below an earlier one: the
    /// odds are the same.) Generations still grow by one per change within a life. Hours before 1970 count as 0; the
    /// range ends in the year 2448.
    static func firstGeneration(at now: Timestamp, nonce: UInt64) -> Int64 {
        let hours = min(max(0, now.millisecondsSince1970 / 3_600_000), (1 << 22) - 1)
        return (hours << 41) + Int64(nonce % (1 << 40)) + 1
    }

    // MARK: Time

    /// The most lazily elapsed deadlines one evaluation applies. Each changes the state (open → half-open at the end of
    /// the open period, half-open → open when a lease expires, and a half-open period without leases has no deadline),
    /// so three are enough; a reset interval's elapsed periods are applied at once. The bound only guards against a
    /// record that the rules did not write.
    static let maximumDeadlinesPerEvaluation = 8

    /// Applies what the passing of time alone changes, exactly as timers firing at each deadline would have: a
    /// forced-open period or an open period that ended (→ half-open at its end), a probe lease that expired (→ open
    /// from the lease's deadline, for a full open period), a reset interval that elapsed (new generation; the next
    /// interval is counted from the end of the last one, not from `now`). Several deadlines that passed while nobody
    /// looked are applied in order, each as of its own instant, and the transitions carry those instants.
    ///
    /// First, deadlines further ahead than the settings allow are pulled in (see ``boundDeadlines(_:now:)``), so that
    /// a backward step of the wall clock cannot hold a circuit for longer than its configured durations. A forward
    /// step is indistinguishable from time passing: open periods end early and leases in flight may expire.
    ///
    /// Returns `true` when the record changed in a way that must be written before a decision relies on it.
    @discardableResult
    func advance(_ record: inout CircuitRecord, now: Timestamp, transitions: inout [CircuitTransition]) -> Bool {
        var changed = boundDeadlines(&record, now: now)
        for _ in 0..<Self.maximumDeadlinesPerEvaluation {
            guard applyEarliestDeadline(&record, now: now, transitions: &transitions) else { break }
            changed = true
        }
        return changed
    }

    /// Applies the earliest deadline of `record` that is not after `now`, as of that deadline; `false` if none is due.
    private func applyEarliestDeadline(
        _ record: inout CircuitRecord, now: Timestamp, transitions: inout [CircuitTransition]
    ) -> Bool {
        switch record.state {
        case .open:
            guard let end = record.expiresAt, end <= now else { return false }
            let reason = record.override == nil ? "open period ended" : "forced-open period ended"
            record.override = nil
            move(&record, to: .halfOpen, at: end, reason: reason, transitions: &transitions)
            return true
        case .halfOpen:
            guard let deadline = record.probes.map(\.deadline).min(), deadline <= now else { return false }
            move(&record, to: .open, at: deadline, reason: "probe lease expired", transitions: &transitions)
            return true
        case .closed:
            guard let interval = settings.resetInterval else { return false }
            guard let end = record.expiresAt else {
                // A closed record without an expiry (written before a reset interval was configured): the schedule
                // starts now, and the next write stores it.
                record.expiresAt = now + interval
                return false
            }
            guard end <= now else { return false }
            // Each interval that ended by `now` started a generation, as a timer would have.
            let length = max(1, interval.milliseconds)
            let ended = (now.millisecondsSince1970.saturatingSubtract(end.millisecondsSince1970) / length)
                .saturatingAdd(1)
            record.generation = record.generation.saturatingAdd(ended)
            record.counts = .zero
            record.reporters = []
            record.expiresAt = Timestamp(
                millisecondsSince1970: end.millisecondsSince1970.saturatingAdd(ended.saturatingMultiply(length)))
            return true
        }
    }

    /// Pulls in the deadlines of `record` that lie further ahead of `now` than the settings allow, so that a backward
    /// step of the wall clock (or a record written by a host whose clock is ahead) cannot hold the circuit for longer
    /// than its configured durations from the first time it is evaluated after the step:
    ///
    /// - a probe lease ends at most ``BreakerSettings/probeTimeout`` from now;
    /// - an open period (not forced) ends at most its own length from now: the open-duration policy's period for the
    ///   circuit's opening count, or, when longer, the time from its opening to its end (an upstream's `openUntil`);
    ///   an open record without an end gets one;
    /// - a reset interval ends at most ``BreakerSettings/resetInterval`` from now.
    ///
    /// A forced-open `until` is the operator's choice and is left as it is. With time moving forward no deadline is
    /// ever beyond these bounds, so this changes nothing. Returns whether it changed the record.
    func boundDeadlines(_ record: inout CircuitRecord, now: Timestamp) -> Bool {
        var changed = false
        let latestLease = now + settings.probeTimeout
        for index in record.probes.indices where record.probes[index].deadline > latestLease {
            record.probes[index].deadline = latestLease
            changed = true
        }
        switch record.state {
        case .open:
            if case .forcedOpen = record.override { break }
            let policy = openDuration(record)
            let stored = record.expiresAt.map { $0 - record.updatedAt } ?? .zero
            let latest = now + max(policy, stored)
            if record.expiresAt.map({ $0 > latest }) ?? true {
                record.expiresAt = latest
                changed = true
            }
        case .closed:
            if let interval = settings.resetInterval, let end = record.expiresAt, end > now + interval {
                record.expiresAt = now + interval
                changed = true
            }
        case .halfOpen:
            break
        }
        return changed
    }

    // MARK: Calls

    /// Admits or rejects one call; in half-open, an admitted probe takes a lease with id `leaseID`.
    func admit(_ record: inout CircuitRecord, now: Timestamp, leaseID: Int64) -> Admission {
        switch record.state {
        case .closed:
            return .admitted(generation: record.generation, lease: nil)
        case .open:
            return .rejected(rejection(of: record))
        case .halfOpen:
            let taken = Int64(record.probes.count).saturatingAdd(record.counts.consecutiveSuccesses)
            guard taken < Int64(settings.closeThreshold) else {
                let nextFree = record.probes.map(\.deadline).min()
                return .rejected(CircuitRejected(circuit: record.name, reason: .probesExhausted, retryAfter: nextFree))
            }
            record.probes.append(ProbeLease(id: leaseID, deadline: now + settings.probeTimeout))
            return .admitted(generation: record.generation, lease: leaseID)
        }
    }

    /// The decision for a call when it can be made from a plain read, without writing: closed admits and open
    /// rejects. Returns `nil` when the decision needs a write: a circuit without a record (its first generation must
    /// be stored before a permit can carry it), half-open leases, or time changed the record.
    func admitWithoutWriting(_ stored: CircuitRecord?, now: Timestamp) -> Admission? {
        guard var record = stored else { return nil }
        var ignored: [CircuitTransition] = []
        if advance(&record, now: now, transitions: &ignored) { return nil }
        switch record.state {
        case .closed: return .admitted(generation: record.generation, lease: nil)
        case .open: return .rejected(rejection(of: record))
        case .halfOpen: return nil
        }
    }

    /// Whether recording a success of `generation` would change nothing that a decision depends on, so that the
    /// success may be batched instead of written: the circuit is closed, in that generation, with no failure
    /// since the last success, and no rate window needs every call.
    func canBatchSuccess(_ report: CallReport, _ stored: CircuitRecord?, generation: Int64, now: Timestamp) -> Bool {
        guard report.outcome == .success, !settings.recordsEverySuccess,
            !report.isSlow(limit: settings.slowCallDuration, now: now), var record = stored
        else { return false }
        var ignored: [CircuitTransition] = []
        if advance(&record, now: now, transitions: &ignored) { return false }
        return record.state == .closed && record.generation == generation && record.counts.consecutiveFailures == 0
    }

    /// Records the outcome of a call admitted in `generation` (holding `lease`, if a probe).
    ///
    /// An outcome from another generation, for a lease the circuit no longer holds, or with a lease while the circuit
    /// is closed, is discarded: returns `false` and leaves the record as it was.
    func record(
        _ report: CallReport, generation: Int64, lease: Int64?, in record: inout CircuitRecord, now: Timestamp,
        transitions: inout [CircuitTransition]
    ) -> Bool {
        guard record.generation == generation else { return false }
        var outcome = report.outcome
        let slow = report.isSlow(limit: settings.slowCallDuration, now: now)
        // A slow success is a failure, unless slow calls have a rate threshold of their own.
        if slow, outcome == .success, settings.rateWindow?.slowCallRateThreshold == nil { outcome = .failure }
        switch record.state {
        case .open:
            return false
        case .closed:
            // A closed circuit admits no probes: a permit with a lease is not of this generation (a forged one).
            guard lease == nil else { return false }
            switch outcome {
            case .success: record.counts.recordSuccess()
            case .failure: record.counts.recordFailure()
            case .ignored: return true
            }
            if settings.rateWindow != nil {
                count(outcome, slow: slow, in: &record.window, now: now)
                // This call alone in the window: the window was empty, and so is the list of reporters.
                if record.window.count == 1, record.window[0].calls == 1 { record.reporters = [] }
            } else if outcome == .success, !record.reporters.isEmpty {
                record.reporters = []
            }
            if outcome == .failure, settings.minimumReporters > 1 { countReporter(&record) }
            if case .forcedClosed = record.override { return true }
            if outcome == .failure, let until = report.openUntil, until > now {
                move(
                    &record, to: .open, at: now, reason: "upstream asked to wait until \(until)",
                    openUntil: until, transitions: &transitions)
            } else if let reason = tripReason(record, outcome: outcome, now: now) {
                if settings.minimumReporters <= 1 {
                    move(&record, to: .open, at: now, reason: reason, transitions: &transitions)
                } else if record.reporters.count >= settings.minimumReporters {
                    let why = "\(reason) from \(record.reporters.count) reporters"
                    move(&record, to: .open, at: now, reason: why, transitions: &transitions)
                }
            }
            return true
        case .halfOpen:
            guard let lease, let index = record.probes.firstIndex(where: { $0.id == lease }) else { return false }
            record.probes.remove(at: index)
            switch outcome {
            case .success:
                record.counts.recordSuccess()
                if record.counts.consecutiveSuccesses >= Int64(settings.closeThreshold) {
                    let reason = "\(record.counts.consecutiveSuccesses) successful probe(s)"
                    move(&record, to: .closed, at: now, reason: reason, transitions: &transitions)
                }
            case .failure:
                let until = report.openUntil.flatMap { $0 > now ? $0 : nil }
                let reason = until.map { "probe failed; upstream asked to wait until \($0)" } ?? "probe failed"
                move(&record, to: .open, at: now, reason: reason, openUntil: until, transitions: &transitions)
            case .ignored:
                break
            }
            return true
        }
    }

    /// Adds successes that a process batched (see ``canBatchSuccess(_:_:generation:now:)``), exactly as if each had
    /// been written when it was counted. They are dropped when the circuit has moved to another generation or state.
    func fold(_ batch: BatchedSuccesses, into record: inout CircuitRecord) {
        guard batch.count > 0, record.state == .closed, record.generation == batch.generation else { return }
        record.counts.requests = record.counts.requests.saturatingAdd(batch.count)
        record.counts.successes = record.counts.successes.saturatingAdd(batch.count)
        // The ones counted after the last failure stored continue the run of consecutive successes, unless a
        // failure was stored since: that failure came after them, and its run continues instead.
        if record.counts.failures == batch.failuresSeen, record.counts.consecutiveFailures == 0 {
            record.counts.consecutiveSuccesses = record.counts.consecutiveSuccesses.saturatingAdd(batch.sinceFailure)
        }
    }

    // MARK: Overrides

    /// Holds the circuit open until `until` (or until reset / forced closed, when `nil`).
    func forceOpen(
        _ record: inout CircuitRecord, until: Timestamp?, reason: String?, now: Timestamp,
        transitions: inout [CircuitTransition]
    ) {
        let why = reason.map { "forced open: \($0)" } ?? "forced open"
        if record.state != .open {
            move(&record, to: .open, at: now, reason: why, transitions: &transitions)
        }
        record.override = .forcedOpen(until: until, reason: reason)
        record.expiresAt = until
    }

    /// Holds the circuit closed: calls are admitted and counted, and it does not trip until reset.
    func forceClosed(
        _ record: inout CircuitRecord, reason: String?, now: Timestamp, transitions: inout [CircuitTransition]
    ) {
        let why = reason.map { "forced closed: \($0)" } ?? "forced closed"
        if record.state != .closed {
            move(&record, to: .closed, at: now, reason: why, transitions: &transitions)
        }
        record.override = .forcedClosed(reason: reason)
    }

    /// Back to closed with zero counts in a new generation, and no override.
    func reset(_ record: inout CircuitRecord, now: Timestamp, transitions: inout [CircuitTransition]) {
        record.override = nil
        if record.state != .closed {
            move(&record, to: .closed, at: now, reason: "reset", transitions: &transitions)
        } else {
            record.generation = record.generation.saturatingAdd(1)
            record.counts = .zero
            record.window = []
            record.reporters = []
            record.openAttempts = 0
            record.expiresAt = settings.resetInterval.map { now + $0 }
        }
    }

    // MARK: Helpers

    /// Every state change starts a new generation with zero counts and no leases. `at` is when it happened: now, or
    /// the deadline that caused it when it is applied lazily; the new state's own deadline counts from it.
    private func move(
        _ record: inout CircuitRecord, to state: CircuitState, at: Timestamp, reason: String,
        openUntil: Timestamp? = nil, transitions: inout [CircuitTransition]
    ) {
        let from = record.state
        record.state = state
        record.generation = record.generation.saturatingAdd(1)
        record.counts = .zero
        record.probes = []
        record.window = []
        record.reporters = []
        switch state {
        case .open:
            record.openAttempts = record.openAttempts.saturatingAdd(1)
            record.expiresAt = openUntil ?? at + openDuration(record)
        case .halfOpen:
            record.expiresAt = nil
        case .closed:
            record.openAttempts = 0
            record.expiresAt = settings.resetInterval.map { at + $0 }
        }
        transitions.append(
            CircuitTransition(
                circuit: record.name, from: from, to: state, generation: record.generation, at: at,
                reason: reason, actor: actor))
    }

    /// The open-duration policy's period for the record's opening count and generation (the jitter's seed).
    private func openDuration(_ record: CircuitRecord) -> Duration {
        settings.openDurationPolicy.duration(
            attempt: record.openAttempts, base: settings.openDuration, seed: jitterSeed(record.name, record.generation))
    }

    private func rejection(of record: CircuitRecord) -> CircuitRejected {
        let reason: CircuitRejected.Reason
        if case .forcedOpen(_, let text) = record.override { reason = .forcedOpen(text) } else { reason = .open }
        return CircuitRejected(circuit: record.name, reason: reason, retryAfter: record.expiresAt)
    }

    /// Why a closed circuit should open after this outcome, or `nil` if it should not.
    private func tripReason(_ record: CircuitRecord, outcome: OutcomeKind, now: Timestamp) -> String? {
        guard let policy = settings.rateWindow else {
            let counts = record.counts
            guard outcome == .failure, settings.tripPolicy.shouldTrip(counts, settings.failureThreshold) else {
                return nil
            }
            return settings.tripPolicy.reason(counts)
        }
        let calls = record.window.reduce(Int64(0)) { $0.saturatingAdd($1.calls) }
        guard calls >= Int64(policy.minimumThroughput) else { return nil }
        let failures = record.window.reduce(Int64(0)) { $0.saturatingAdd($1.failures) }
        let slow = record.window.reduce(Int64(0)) { $0.saturatingAdd($1.slowCalls) }
        if let threshold = policy.failureRateThreshold, Double(failures) >= threshold * Double(calls) {
            return "failure rate \(failures)/\(calls) in \(policy.samplingDuration) reached \(threshold)"
        }
        if let threshold = policy.slowCallRateThreshold, Double(slow) >= threshold * Double(calls) {
            return "slow-call rate \(slow)/\(calls) in \(policy.samplingDuration) reached \(threshold)"
        }
        return nil
    }

    /// Counts a failure of this process's reporter: one more for it if it is listed, else a new entry while fewer than
    /// ``BreakerSettings/minimumReporters`` are (beyond that, more reporters change no decision, and the record stays
    /// bounded).
    private func countReporter(_ record: inout CircuitRecord) {
        if let index = record.reporters.firstIndex(where: { $0.id == reporter }) {
            record.reporters[index].failures = record.reporters[index].failures.saturatingAdd(1)
        } else if record.reporters.count < settings.minimumReporters {
            record.reporters.append(FailureReporter(id: reporter, failures: 1))
        }
    }

    /// Adds one call to the current bucket of the rate window, dropping buckets that slid out of it.
    private func count(_ outcome: OutcomeKind, slow: Bool, in window: inout [WindowBucket], now: Timestamp) {
        guard let policy = settings.rateWindow else { return }
        let length = policy.samplingDuration.milliseconds
        let width = max(1, length / Int64(policy.buckets))
        let start = Timestamp(millisecondsSince1970: now.millisecondsSince1970 - now.millisecondsSince1970 % width)
        window.removeAll { $0.start.millisecondsSince1970 <= now.millisecondsSince1970.saturatingSubtract(length) }
        if window.last?.start != start {
            window.append(WindowBucket(start: start, calls: 0, failures: 0, slowCalls: 0))
        }
        let last = window.count - 1
        window[last].calls = window[last].calls.saturatingAdd(1)
        if outcome == .failure { window[last].failures = window[last].failures.saturatingAdd(1) }
        if slow { window[last].slowCalls = window[last].slowCalls.saturatingAdd(1) }
    }

    /// FNV-1a over the name and generation: a deterministic spread for open-duration jitter.
    private func jitterSeed(_ name: String, _ generation: Int64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return (hash ^ UInt64(bitPattern: generation)) &* 0x100_0000_01b3
    }
}
