import Logging
import Metrics

/// Which circuit an operation is for, and who asked. Made by ``BreakerEngine/identity(name:baseName:context:)``.
struct CircuitIdentity: Sendable {
    let name: String
    let baseName: String
    let context: [String: String]
    /// The rules with the settings of the circuit's base name (or the factory's), resolved once when a breaker is made.
    let rules: CircuitRules
    /// The circuit's metrics, resolved once when a breaker is made; `nil` for an operation by name (an override),
    /// which must not create a metrics entry per circuit name.
    let metrics: BreakerMetrics.PerCircuit?
}

/// The rules of a base name, shared by reference: an identity is copied several times per call, and a copy of the
/// rules (settings with closures and strings) would retain and release each of their fields every time.
final class CircuitRules: Sendable {
    let machine: CircuitStateMachine

    init(_ machine: CircuitStateMachine) {
        self.machine = machine
    }
}

/// What a write does when the circuit has no record.
enum MissingRecord {
    /// Start a new life of the circuit, its first generation drawn with this nonce (an admission, an override).
    case create(nonce: UInt64)
    /// Write nothing: the operation belongs to a life that was forgotten or pruned (a report, a flush).
    case skip
}

/// The shared machinery behind a factory's breakers: store, rules, batched successes, callbacks, logs, metrics.
final class BreakerEngine: Sendable {
    let store: any CircuitStore
    let configuration: BreakerFactory.Configuration
    /// The rules with the factory's settings, for base names without settings of their own.
    let rules: CircuitRules
    /// The rules of each base name that has settings of its own (``BreakerFactory/Configuration/settingsByBaseName``).
    let rulesByBaseName: [String: CircuitRules]
    let batcher: SuccessBatcher
    /// This process's recent view of its circuits, when ``BreakerFactory/Configuration/maximumStaleness`` is set.
    let view: LocalView?
    let logger: Logger
    let metrics: BreakerMetrics

    /// Random numbers for lease ids and first generations (a test may make them repeatable).
    let random: @Sendable () -> UInt64

    init(store: any CircuitStore, configuration: BreakerFactory.Configuration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        let reporter = FailureReporter.id(of: configuration.reporter)
        self.rules = CircuitRules(
            CircuitStateMachine(settings: configuration.settings, actor: configuration.actor, reporter: reporter))
        self.rulesByBaseName = configuration.settingsByBaseName.mapValues {
            CircuitRules(CircuitStateMachine(settings: $0, actor: configuration.actor, reporter: reporter))
        }
        self.batcher = SuccessBatcher(
            maximumCount: Int64(configuration.maximumBatchedSuccesses), maximumAge: configuration.successFlushInterval,
            monotonicNow: configuration.monotonicClock)
        self.view = configuration.maximumStaleness.map {
            LocalView(maximumStaleness: $0, monotonicNow: configuration.monotonicClock)
        }
        self.random = configuration.randomSource
        self.logger = logger
        self.metrics = BreakerMetrics(dimension: configuration.metricsDimension, factory: configuration.metricsFactory)
    }

    /// A breaker's circuit, with its metrics.
    func identity(name: String, baseName: String, context: [String: String]) -> CircuitIdentity {
        CircuitIdentity(
            name: name, baseName: baseName, context: context, rules: rules(baseName: baseName),
            metrics: metrics.circuit(name: name, baseName: baseName))
    }

    /// An operation by full name (no base name, no tenant context): the name stands for its base name when choosing
    /// settings, as it does with the default naming function.
    func identity(named name: String) -> CircuitIdentity {
        CircuitIdentity(name: name, baseName: name, context: [:], rules: rules(baseName: name), metrics: nil)
    }

    /// The rules of `baseName`: with its own settings, or the factory's.
    func rules(baseName: String) -> CircuitRules {
        rulesByBaseName.isEmpty ? rules : rulesByBaseName[baseName] ?? rules
    }

    /// The metrics of `circuit`: its breaker's; for an operation by name, which has no base name, only when the
    /// dimension is the full circuit name (with the base-name dimension that would be one series per circuit).
    private func counters(_ circuit: CircuitIdentity) -> BreakerMetrics.PerCircuit? {
        if let own = circuit.metrics { return own }
        guard metrics.dimension == .circuitName else { return nil }
        return metrics.circuit(name: circuit.name, baseName: circuit.baseName)
    }

    // MARK: Admission

    func acquire(_ circuit: CircuitIdentity) async throws -> CircuitPermit {
        do {
            let (stored, now) = try await readForDecision(circuit.name)
            let admission: Admission
            let admittedAt: Timestamp
            if let decided = circuit.rules.machine.admitWithoutWriting(stored, now: now) {
                (admission, admittedAt) = (decided, now)
            } else {
                let leaseID = Int64(bitPattern: random() >> 1) | 1
                let decided = try await modify(circuit, ifMissing: .create(nonce: random())) {
                    machine, record, now, transitions in
                    machine.advance(&record, now: now, transitions: &transitions)
                    return (machine.admit(&record, now: now, leaseID: leaseID), now)
                }
                // `.create` always applies the change; a missing value would mean the store skipped the body.
                guard let decided else {
                    throw CircuitStoreError(code: .other, message: "the store did not apply an admission")
                }
                (admission, admittedAt) = decided
            }
            switch admission {
            case .admitted(let generation, let lease):
                counters(circuit)?.admitted.increment()
                return CircuitPermit(
                    circuit: circuit.name, generation: generation, lease: lease, admittedAt: admittedAt,
                    isRecorded: true)
            case .rejected(let rejection):
                counters(circuit)?.rejected(rejection.reason)
                throw rejection
            }
        } catch let rejection as CircuitRejected {
            throw rejection
        } catch {
            metrics.errorsBeforeCall.increment()
            guard configuration.storageFailurePolicy == .failOpen else { throw error }
            logger.info(
                "circuit store failed before the call; admitting it unrecorded (fail-open policy)",
                metadata: ["circuitry.circuit": "\(circuit.name)", "circuitry.error": "\(error)"])
            return CircuitPermit(
                circuit: circuit.name, generation: 0, lease: nil, admittedAt: Timestamp(millisecondsSince1970: 0),
                isRecorded: false)
        }
    }

    // MARK: Outcomes

    func record(
        _ outcome: CallOutcome, permit: CircuitPermit, duration: Duration?, circuit: CircuitIdentity
    ) async throws {
        guard permit.isRecorded, permit.circuit == circuit.name else { return }
        counters(circuit)?.outcome(outcome.kind)
        let report = CallReport(
            outcome: outcome.kind, admittedAt: permit.admittedAt, duration: duration, openUntil: outcome.openUntil)
        if permit.lease == nil {
            // A closed circuit keeps no count of ignored calls.
            if outcome.kind == .ignored { return }
            if outcome.kind == .success {
                let (stored, now) = try await readForDecision(circuit.name)
                if let stored,
                    circuit.rules.machine.canBatchSuccess(report, stored, generation: permit.generation, now: now)
                {
                    let full = batcher.add(circuit, generation: permit.generation, failures: stored.counts.failures)
                    if full { try await flush(circuit) }
                    return
                }
            }
        }
        // A circuit without a record was forgotten or pruned since the permit was admitted: the outcome belongs to
        // that earlier life and is dropped (see `CircuitStateMachine.firstGeneration`).
        try await modify(circuit, ifMissing: .skip) { machine, record, now, transitions in
            machine.advance(&record, now: now, transitions: &transitions)
            _ = machine.record(
                report, generation: permit.generation, lease: permit.lease, in: &record, now: now,
                transitions: &transitions)
        }
    }

    /// Records an outcome after the work ran: a store failure is logged and counted, never thrown, so that the
    /// work's own result or error reaches the caller.
    func recordReportingErrors(
        _ outcome: CallOutcome, permit: CircuitPermit, duration: Duration?, circuit: CircuitIdentity
    ) async {
        do {
            try await record(outcome, permit: permit, duration: duration, circuit: circuit)
        } catch {
            metrics.errorsAfterCall.increment()
            logger.info(
                "could not record a call's outcome; the call's own result is unaffected",
                metadata: [
                    "circuitry.circuit": "\(permit.circuit)", "circuitry.outcome": "\(outcome)",
                    "circuitry.error": "\(error)",
                ])
        }
    }

    /// Writes the circuit's batched successes (dropped if the circuit has no record any more).
    func flush(_ circuit: CircuitIdentity) async throws {
        try await modify(circuit, ifMissing: .skip) { machine, record, now, transitions in
            machine.advance(&record, now: now, transitions: &transitions)
        }
    }

    // MARK: Reads and overrides

    /// The circuit now; a circuit that was never written is a fresh closed one.
    func snapshot(_ circuit: CircuitIdentity) async throws -> CircuitSnapshot {
        let (stored, now) = try await read(circuit.name)
        return evaluate(stored, name: circuit.name, machine: circuit.rules.machine, now: now)
    }

    /// The circuit now, or `nil` if it was never written.
    func storedSnapshot(_ name: String) async throws -> CircuitSnapshot? {
        let (stored, now) = try await read(name)
        return stored.map { evaluate($0, name: name, machine: rules(baseName: name).machine, now: now) }
    }

    func snapshots() async throws -> [CircuitSnapshot] {
        let (records, now) = try await store.list()
        return records.map { evaluate($0, name: $0.name, machine: rules(baseName: $0.name).machine, now: now) }
    }

    private func evaluate(
        _ stored: CircuitRecord?, name: String, machine: CircuitStateMachine, now: Timestamp
    ) -> CircuitSnapshot {
        var record = stored ?? CircuitRecord(name: name, createdAt: now)
        var ignored: [CircuitTransition] = []
        machine.advance(&record, now: now, transitions: &ignored)
        return CircuitSnapshot(
            record: record, storedState: stored?.state, now: now, unflushedSuccesses: batcher.pending(name))
    }

    /// An operator's change to the circuit, in one atomic update after what time alone changed; returns what
    /// `change` returns.
    @discardableResult
    func override<Value: Sendable>(
        _ name: String,
        _ change:
            @escaping @Sendable (CircuitStateMachine, inout CircuitRecord, Timestamp, inout [CircuitTransition])
            -> Value
    ) async throws -> Value {
        let value = try await modify(identity(named: name), ifMissing: .create(nonce: random())) {
            machine, record, now, transitions in
            machine.advance(&record, now: now, transitions: &transitions)
            return change(machine, &record, now, &transitions)
        }
        // `.create` makes a missing record instead of skipping, so `modify` always ran `change`.
        guard let value else {
            throw CircuitStoreError(code: .other, message: "an override of \(name) was not applied", location: nil)
        }
        return value
    }

    // MARK: Store access

    private func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        let started = monotonicNanoseconds()
        defer { metrics.readDuration.recordInterval(since: started) }
        return try await store.read(name)
    }

    /// The record for a decision that writes nothing (an admission, whether a success may be batched): from this
    /// process's view when ``BreakerFactory/Configuration/maximumStaleness`` is set and the view saw the circuit
    /// closed within it, else from the store (and the view keeps the answer).
    @inline(__always)
    private func readForDecision(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        guard let view else { return try await read(name) }
        if let seen = view.closedRecord(name) { return seen }
        let askedAt = view.clock()
        let answer = try await read(name)
        view.remember(name, answer.record, now: answer.now, askedAt: askedAt)
        return answer
    }

    /// The one write path: an atomic read-modify-write of the circuit that folds this process's batched successes
    /// in, applies `change`, writes the record if it changed and appends the transitions; after the commit, fires
    /// the callbacks. When the circuit has no record, `ifMissing` says whether to start one or to write nothing
    /// (then `change` is not applied and the result is `nil`).
    @discardableResult
    private func modify<Value: Sendable>(
        _ circuit: CircuitIdentity, ifMissing: MissingRecord,
        _ change: (CircuitStateMachine, inout CircuitRecord, Timestamp, inout [CircuitTransition]) -> Value
    ) async throws -> Value? {
        let name = circuit.name
        let batch = batcher.take(name)
        let machine = circuit.rules.machine
        let started = monotonicNanoseconds()
        // What the last run of the body saw and left, for the view; without one, nothing is kept (a copy of the record
        // costs its fields' reference counting on every write).
        let seen = view.map { LocalView.Observation(askedAt: $0.clock()) }
        let (value, transitions): (Value?, [CircuitTransition])
        do {
            (value, transitions) = try await store.update(name) { stored, now in
                var record: CircuitRecord
                switch (stored, ifMissing) {
                case (let existing?, _): record = existing
                case (nil, .create(let nonce)): record = machine.newRecord(name: name, now: now, nonce: nonce)
                case (nil, .skip):
                    seen?.keep(nil, now: now)
                    return StoreUpdate(value: (nil, []), write: false)
                }
                if let batch {
                    machine.fold(batch.successes, into: &record)
                }
                var transitions: [CircuitTransition] = []
                let value = change(machine, &record, now, &transitions)
                let write = record != stored
                stored = record
                seen?.keep(record, now: now)
                return StoreUpdate(value: (value, transitions), write: write, transitions: transitions)
            }
        } catch {
            if let batch { batcher.restore(name, batch) }
            throw error
        }
        metrics.updateDuration.recordInterval(since: started)
        if let view, let seen { view.remember(name, seen) }
        for transition in transitions { announce(transition, circuit: circuit) }
        return value
    }

    private func announce(_ transition: CircuitTransition, circuit: CircuitIdentity) {
        counters(circuit)?.transition(to: transition.to)
        logger.debug(
            "circuit is now \(transition.to)",
            metadata: [
                "circuitry.circuit": "\(transition.circuit)", "circuitry.from": "\(transition.from)",
                "circuitry.reason": "\(transition.reason)", "circuitry.generation": "\(transition.generation)",
            ])
        configuration.onStateChange?(StateChange(transition: transition, context: circuit.context))
    }
}

extension Metrics.Timer {
    /// Records the time since `start` (``monotonicNanoseconds()``): a clock read and a subtraction, where
    /// `ContinuousClock`'s instants cost a `Duration`'s 128-bit arithmetic on every store access.
    fileprivate func recordInterval(since start: UInt64) {
        recordNanoseconds(Int64(clamping: monotonicNanoseconds() &- start))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}
