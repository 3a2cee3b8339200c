import Logging
import Metrics

/// The shared machinery behind a factory's breakers: store, rules, batched successes, callbacks, logs, metrics.
final class BreakerEngine: Sendable {
    let store: any CircuitStore
    let configuration: BreakerFactory.Configuration
    let machine: CircuitStateMachine
    let batcher: SuccessBatcher
    let logger: Logger
    private let storageErrors: Counter
    private let transitionsCounter: Counter

    init(store: any CircuitStore, configuration: BreakerFactory.Configuration, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.machine = CircuitStateMachine(settings: configuration.settings, actor: configuration.actor)
        self.batcher = SuccessBatcher(
            maximumCount: Int64(configuration.maximumBatchedSuccesses), maximumAge: configuration.successFlushInterval)
        self.logger = logger
        self.storageErrors = Counter(label: "circuitry_storage_errors_total")
        self.transitionsCounter = Counter(label: "circuitry_transitions_total")
    }

    // MARK: Admission

    func acquire(_ name: String, context: [String: String]) async throws -> CircuitPermit {
        do {
            let (stored, now) = try await store.read(name)
            if let admission = machine.admitWithoutWriting(stored, name: name, now: now) {
                return try permit(for: name, admission, now: now)
            }
            let leaseID = Int64.random(in: 1...Int64.max)
            let (admission, now2) = try await modify(name, context: context) { machine, record, now, transitions in
                machine.advance(&record, now: now, transitions: &transitions)
                return (machine.admit(&record, now: now, leaseID: leaseID), now)
            }
            return try permit(for: name, admission, now: now2)
        } catch let rejection as CircuitRejected {
            throw rejection
        } catch {
            storageErrors.increment()
            guard configuration.storageFailurePolicy == .failOpen else { throw error }
            logger.info(
                "circuit store failed before the call; admitting it unrecorded (fail-open policy)",
                metadata: ["circuitry.circuit": "\(name)", "circuitry.error": "\(error)"])
            return CircuitPermit(
                circuit: name, generation: 0, lease: nil, admittedAt: Timestamp(millisecondsSince1970: 0),
                isRecorded: false)
        }
    }

    private func permit(for name: String, _ admission: Admission, now: Timestamp) throws -> CircuitPermit {
        switch admission {
        case .admitted(let generation, let lease):
            return CircuitPermit(circuit: name, generation: generation, lease: lease, admittedAt: now, isRecorded: true)
        case .rejected(let rejection):
            throw rejection
        }
    }

    // MARK: Outcomes

    func record(_ outcome: CallOutcome, permit: CircuitPermit, context: [String: String]) async throws {
        guard permit.isRecorded else { return }
        let name = permit.circuit
        if permit.lease == nil {
            switch outcome.kind {
            case .ignored:
                return  // a closed circuit keeps no count of ignored calls
            case .success:
                let (stored, now) = try await store.read(name)
                if machine.canBatchSuccess(stored, name: name, generation: permit.generation, now: now) {
                    if batcher.add(name, generation: permit.generation, now: now) { try await flush(name) }
                    return
                }
            case .failure:
                break
            }
        }
        try await modify(name, context: context) { machine, record, now, transitions in
            machine.advance(&record, now: now, transitions: &transitions)
            _ = machine.record(
                outcome.kind, generation: permit.generation, lease: permit.lease, in: &record, now: now,
                transitions: &transitions)
        }
    }

    /// Records an outcome after the work ran: a store failure is logged and counted, never thrown, so that the
    /// work's own result or error reaches the caller.
    func recordReportingErrors(_ outcome: CallOutcome, permit: CircuitPermit, context: [String: String]) async {
        do {
            try await record(outcome, permit: permit, context: context)
        } catch {
            storageErrors.increment()
            logger.info(
                "could not record a call's outcome; the call's own result is unaffected",
                metadata: [
                    "circuitry.circuit": "\(permit.circuit)", "circuitry.outcome": "\(outcome)",
                    "circuitry.error": "\(error)",
                ])
        }
    }

    /// Writes the circuit's batched successes.
    func flush(_ name: String) async throws {
        try await modify(name, context: [:]) { machine, record, now, transitions in
            machine.advance(&record, now: now, transitions: &transitions)
        }
    }

    // MARK: Reads and overrides

    /// The circuit now; a circuit that was never written is a fresh closed one.
    func snapshot(_ name: String) async throws -> CircuitSnapshot {
        let (stored, now) = try await store.read(name)
        return evaluate(stored, name: name, now: now)
    }

    /// The circuit now, or `nil` if it was never written.
    func storedSnapshot(_ name: String) async throws -> CircuitSnapshot? {
        let (stored, now) = try await store.read(name)
        return stored.map { evaluate($0, name: name, now: now) }
    }

    func snapshots() async throws -> [CircuitSnapshot] {
        let records = try await store.list()
        let (_, now) = try await store.read("")
        return records.map { evaluate($0, name: $0.name, now: now) }
    }

    private func evaluate(_ stored: CircuitRecord?, name: String, now: Timestamp) -> CircuitSnapshot {
        var record = stored ?? CircuitRecord(name: name, createdAt: now)
        var ignored: [CircuitTransition] = []
        machine.advance(&record, now: now, transitions: &ignored)
        return CircuitSnapshot(
            record: record, storedState: stored?.state, now: now, unflushedSuccesses: batcher.pending(name))
    }

    func override(
        _ name: String, context: [String: String],
        _ change:
            @escaping @Sendable (CircuitStateMachine, inout CircuitRecord, Timestamp, inout [CircuitTransition])
            -> Void
    ) async throws {
        try await modify(name, context: context) { machine, record, now, transitions in
            machine.advance(&record, now: now, transitions: &transitions)
            change(machine, &record, now, &transitions)
        }
    }

    // MARK: The one write path

    /// One atomic read-modify-write of the circuit: folds this process's batched successes in, applies `change`,
    /// writes the record if it changed and appends the transitions; after the commit, fires the callbacks.
    @discardableResult
    private func modify<Value: Sendable>(
        _ name: String, context: [String: String],
        _ change: (CircuitStateMachine, inout CircuitRecord, Timestamp, inout [CircuitTransition]) -> Value
    ) async throws -> Value {
        let batch = batcher.take(name)
        let machine = self.machine
        let (value, transitions): (Value, [CircuitTransition])
        do {
            (value, transitions) = try await store.update(name) { stored, now in
                var record = stored ?? CircuitRecord(name: name, createdAt: now)
                if let batch {
                    machine.fold(batchedSuccesses: batch.count, generation: batch.generation, into: &record)
                }
                var transitions: [CircuitTransition] = []
                let value = change(machine, &record, now, &transitions)
                let write = record != stored
                stored = record
                return StoreUpdate(value: (value, transitions), write: write, transitions: transitions)
            }
        } catch {
            if let batch { batcher.restore(name, batch) }
            throw error
        }
        for transition in transitions { announce(transition, context: context) }
        return value
    }

    private func announce(_ transition: CircuitTransition, context: [String: String]) {
        transitionsCounter.increment()
        logger.debug(
            "circuit \(transition.to == .open ? "opened" : transition.to == .closed ? "closed" : "half-opened")",
            metadata: [
                "circuitry.circuit": "\(transition.circuit)", "circuitry.from": "\(transition.from)",
                "circuitry.to": "\(transition.to)", "circuitry.reason": "\(transition.reason)",
                "circuitry.generation": "\(transition.generation)",
            ])
        configuration.onStateChange?(StateChange(transition: transition, context: context))
    }
}
