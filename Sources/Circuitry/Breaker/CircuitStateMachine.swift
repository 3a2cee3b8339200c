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

    // MARK: Time

    /// Applies what the passing of time alone changes: a forced-open period or an open period that ended
    /// (→ half-open), a probe lease that expired (→ open), a reset interval that elapsed (new generation).
    ///
    /// Returns `true` when the record changed in a way that must be written before a decision relies on it.
    @discardableResult
    func advance(_ record: inout CircuitRecord, now: Timestamp, transitions: inout [CircuitTransition]) -> Bool {
        switch record.state {
        case .open:
            guard let expiry = record.expiresAt, now >= expiry else { return false }
            let reason = record.override == nil ? "open period ended" : "forced-open period ended"
            record.override = nil
            move(&record, to: .halfOpen, now: now, reason: reason, transitions: &transitions)
            return true
        case .halfOpen:
            guard record.probes.contains(where: { $0.deadline <= now }) else { return false }
            move(&record, to: .open, now: now, reason: "probe lease expired", transitions: &transitions)
            return true
        case .closed:
            guard let interval = settings.resetInterval else { return false }
            guard let expiry = record.expiresAt else {
                // First sight of this circuit with a reset interval: the next write stores the expiry.
                record.expiresAt = now + interval
                return false
            }
            guard now >= expiry else { return false }
            record.generation += 1
            record.counts = .zero
            record.expiresAt = now + interval
            return true
        }
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
            let taken = record.probes.count + Int(record.counts.consecutiveSuccesses)
            guard taken < settings.closeThreshold else {
                let nextFree = record.probes.map(\.deadline).min()
                return .rejected(CircuitRejected(circuit: record.name, reason: .probesExhausted, retryAfter: nextFree))
            }
            record.probes.append(ProbeLease(id: leaseID, deadline: now + settings.probeTimeout))
            return .admitted(generation: record.generation, lease: leaseID)
        }
    }

    /// The decision for a call when it can be made from a plain read, without writing: closed admits and open
    /// rejects. Returns `nil` when the decision needs a write (half-open leases, or time changed the record).
    func admitWithoutWriting(_ stored: CircuitRecord?, name: String, now: Timestamp) -> Admission? {
        var record = stored ?? CircuitRecord(name: name, createdAt: now)
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
    func canBatchSuccess(
        _ report: CallReport, _ stored: CircuitRecord?, name: String, generation: Int64, now: Timestamp
    ) -> Bool {
        guard report.outcome == .success, !settings.recordsEverySuccess,
            !report.isSlow(limit: settings.slowCallDuration, now: now)
        else { return false }
        var record = stored ?? CircuitRecord(name: name, createdAt: now)
        var ignored: [CircuitTransition] = []
        if advance(&record, now: now, transitions: &ignored) { return false }
        return record.state == .closed && record.generation == generation && record.counts.consecutiveFailures == 0
    }

    /// Records the outcome of a call admitted in `generation` (holding `lease`, if a probe).
    ///
    /// An outcome from another generation, or for a lease the circuit no longer holds, is discarded: returns
    /// `false` and leaves the record as it was.
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
            switch outcome {
            case .success: record.counts.recordSuccess()
            case .failure: record.counts.recordFailure()
            case .ignored: return true
            }
            if settings.rateWindow != nil {
                count(outcome, slow: slow, in: &record.window, now: now)
            }
            if case .forcedClosed = record.override { return true }
            if outcome == .failure, let until = report.openUntil, until > now {
                move(
                    &record, to: .open, now: now, reason: "upstream asked to wait until \(until)",
                    openUntil: until, transitions: &transitions)
            } else if let reason = tripReason(record, outcome: outcome, now: now) {
                move(&record, to: .open, now: now, reason: reason, transitions: &transitions)
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
                    move(&record, to: .closed, now: now, reason: reason, transitions: &transitions)
                }
            case .failure:
                let until = report.openUntil.flatMap { $0 > now ? $0 : nil }
                let reason = until.map { "probe failed; upstream asked to wait until \($0)" } ?? "probe failed"
                move(&record, to: .open, now: now, reason: reason, openUntil: until, transitions: &transitions)
            case .ignored:
                break
            }
            return true
        }
    }

    /// Adds successes that a process batched in `generation` (see ``canBatchSuccess(_:name:generation:now:)``).
    /// They are dropped when the circuit has moved to another generation or state since.
    func fold(batchedSuccesses count: Int64, generation: Int64, into record: inout CircuitRecord) {
        guard count > 0, record.state == .closed, record.generation == generation else { return }
        record.counts.requests += count
        record.counts.successes += count
        // They came after the last failure that was stored when they were batched; a failure stored since then
        // keeps its place in the run of consecutive failures.
        if record.counts.consecutiveFailures == 0 { record.counts.consecutiveSuccesses += count }
    }

    // MARK: Overrides

    /// Holds the circuit open until `until` (or until reset / forced closed, when `nil`).
    func forceOpen(
        _ record: inout CircuitRecord, until: Timestamp?, reason: String?, now: Timestamp,
        transitions: inout [CircuitTransition]
    ) {
        let why = reason.map { "forced open: \($0)" } ?? "forced open"
        if record.state != .open {
            move(&record, to: .open, now: now, reason: why, transitions: &transitions)
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
            move(&record, to: .closed, now: now, reason: why, transitions: &transitions)
        }
        record.override = .forcedClosed(reason: reason)
    }

    /// Back to closed with zero counts in a new generation, and no override.
    func reset(_ record: inout CircuitRecord, now: Timestamp, transitions: inout [CircuitTransition]) {
        record.override = nil
        if record.state != .closed {
            move(&record, to: .closed, now: now, reason: "reset", transitions: &transitions)
        } else {
            record.generation += 1
            record.counts = .zero
            record.window = []
            record.openAttempts = 0
            record.expiresAt = settings.resetInterval.map { now + $0 }
        }
    }

    // MARK: Helpers

    /// Every state change starts a new generation with zero counts and no leases.
    private func move(
        _ record: inout CircuitRecord, to state: CircuitState, now: Timestamp, reason: String,
        openUntil: Timestamp? = nil, transitions: inout [CircuitTransition]
    ) {
        let from = record.state
        record.state = state
        record.generation += 1
        record.counts = .zero
        record.probes = []
        record.window = []
        switch state {
        case .open:
            record.openAttempts += 1
            let duration = settings.openDurationPolicy.duration(
                attempt: record.openAttempts, base: settings.openDuration,
                seed: jitterSeed(record.name, record.generation))
            record.expiresAt = openUntil ?? now + duration
        case .halfOpen:
            record.expiresAt = nil
        case .closed:
            record.openAttempts = 0
            record.expiresAt = settings.resetInterval.map { now + $0 }
        }
        transitions.append(
            CircuitTransition(
                circuit: record.name, from: from, to: state, generation: record.generation, at: now,
                reason: reason, actor: actor))
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
        let calls = record.window.reduce(0) { $0 + $1.calls }
        guard calls >= Int64(policy.minimumThroughput) else { return nil }
        let failures = record.window.reduce(0) { $0 + $1.failures }
        let slow = record.window.reduce(0) { $0 + $1.slowCalls }
        if let threshold = policy.failureRateThreshold, Double(failures) >= threshold * Double(calls) {
            return "failure rate \(failures)/\(calls) in \(policy.samplingDuration) reached \(threshold)"
        }
        if let threshold = policy.slowCallRateThreshold, Double(slow) >= threshold * Double(calls) {
            return "slow-call rate \(slow)/\(calls) in \(policy.samplingDuration) reached \(threshold)"
        }
        return nil
    }

    /// Adds one call to the current bucket of the rate window, dropping buckets that slid out of it.
    private func count(_ outcome: OutcomeKind, slow: Bool, in window: inout [WindowBucket], now: Timestamp) {
        guard let policy = settings.rateWindow else { return }
        let length = policy.samplingDuration.milliseconds
        let width = max(1, length / Int64(policy.buckets))
        let start = Timestamp(millisecondsSince1970: now.millisecondsSince1970 - now.millisecondsSince1970 % width)
        window.removeAll { $0.start.millisecondsSince1970 <= now.millisecondsSince1970 - length }
        if window.last?.start != start {
            window.append(WindowBucket(start: start, calls: 0, failures: 0, slowCalls: 0))
        }
        window[window.count - 1].calls += 1
        if outcome == .failure { window[window.count - 1].failures += 1 }
        if slow { window[window.count - 1].slowCalls += 1 }
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
