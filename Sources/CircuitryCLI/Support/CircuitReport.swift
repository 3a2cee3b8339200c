import Circuitry

/// What `list` and `show` say about one circuit: its snapshot, and why and since when it is in its state.
///
/// The counts of a circuit belong to its current generation, which every change of state starts afresh: an open
/// circuit has counted nothing since it opened. The failures that opened it are told by the reason of the transition
/// that opened it (`5 consecutive failures`, `trip policy "half of 20" after 10 of 20 calls failed`), which is what
/// the report shows; the counts of the generation before are not kept anywhere.
struct CircuitReport: Sendable {
    /// The circuit as it stands at ``CircuitSnapshot/now`` (the store's clock).
    var snapshot: CircuitSnapshot
    /// The circuit's latest transition in the history, if the history has one.
    var lastTransition: HistoryEntry?
    /// When time alone changed the state, which no call has written since (an open period or a probe's lease that
    /// ended), from the stored record.
    var changedByTimeAt: Timestamp?

    var record: CircuitRecord { snapshot.record }
    var now: Timestamp { snapshot.now }

    /// Whether time alone changed the state since the record was last written.
    var changedByTimeAlone: Bool {
        guard let stored = snapshot.storedState else { return false }
        return stored != record.state
    }

    /// The latest transition, if it is the one that put the circuit in its current state.
    var transitionToThisState: CircuitTransition? {
        guard !changedByTimeAlone, let transition = lastTransition?.transition, transition.to == record.state
        else { return nil }
        return transition
    }

    /// When the circuit entered its current state, if known.
    var since: Timestamp? {
        changedByTimeAlone ? changedByTimeAt : transitionToThisState?.at
    }

    /// Why the circuit is in its state, in words: the reason of the transition that put it there (or of the
    /// override that holds it), or what time did. `nil` for a circuit that has been closed since it was created.
    var why: String? { explanation?.reason }

    /// Who put the circuit in its state (the transition's actor), when ``why`` comes from the history.
    var actor: String? { explanation?.actor }

    private var explanation: (reason: String, actor: String?)? {
        if changedByTimeAlone {
            switch record.state {
            case .halfOpen: return ("its open period ended, and no call has come since", nil)
            case .open: return ("a probe's lease expired without a report, and no call has come since", nil)
            case .closed: return nil
            }
        }
        if let transition = transitionToThisState, record.override == nil || transition.reason.hasPrefix("forced") {
            return (Console.oneLine(transition.reason), Console.oneLine(transition.actor))
        }
        // Forced into the state it was already in: the override has the reason, the history has no transition.
        switch record.override {
        case .forcedOpen(_, let reason)?:
            return ("forced open" + (reason.map { ": " + Console.oneLine($0) } ?? ""), nil)
        case .forcedClosed(let reason)?:
            return ("forced closed" + (reason.map { ": " + Console.oneLine($0) } ?? ""), nil)
        case nil: return nil
        }
    }

    /// What happens next, and when: `probe in 27s`, `forced open until in 57m`, `forced closed until reset`.
    var next: String? {
        switch (record.state, record.override) {
        case (.open, .forcedOpen(let until?, _)?):
            return "forced open, ends \(TextFormat.relative(until, now: now))"
        case (.open, .forcedOpen(nil, _)?):
            return "forced open until closed or reset"
        case (.open, _):
            return snapshot.retryAfter.map { "probe \(TextFormat.relative($0, now: now))" }
        case (.halfOpen, _):
            let running = record.probes.count
            return running == 0 ? "a probe may run now" : "\(running) probe(s) running"
        case (.closed, .forcedClosed?):
            return "forced closed until reset"
        case (.closed, _):
            return record.expiresAt.map { "counts reset \(TextFormat.relative($0, now: now))" }
        }
    }
}

extension CircuitReport {
    /// Reports on `snapshots`, with each circuit's latest transition: one read of the latest 1,000 transitions of
    /// the whole history, then one read for each circuit that is not among them; and a read of the stored record of
    /// each circuit that time alone has changed.
    static func make(
        _ snapshots: [CircuitSnapshot], factory: BreakerFactory, store: any CircuitStore
    ) async throws -> [CircuitReport] {
        var latest: [String: HistoryEntry] = [:]
        if !snapshots.isEmpty {
            for entry in try await factory.history(of: nil, limit: 1000) { latest[entry.transition.circuit] = entry }
        }
        var reports: [CircuitReport] = []
        for snapshot in snapshots {
            let name = snapshot.record.name
            var last = latest[name]
            if last == nil { last = try await factory.history(of: name, limit: 1).last }
            reports.append(try await make(snapshot, lastTransition: last, store: store))
        }
        return reports
    }

    /// The report on one circuit whose latest transition is known.
    static func make(
        _ snapshot: CircuitSnapshot, lastTransition: HistoryEntry?, store: any CircuitStore
    ) async throws -> CircuitReport {
        var report = CircuitReport(snapshot: snapshot, lastTransition: lastTransition, changedByTimeAt: nil)
        if report.changedByTimeAlone, let stored = try await store.read(snapshot.record.name).record {
            // What evaluating the stored record used up: the end of its open period, or its earliest lease.
            switch stored.state {
            case .open: report.changedByTimeAt = stored.expiresAt
            case .halfOpen: report.changedByTimeAt = stored.probes.map(\.deadline).min()
            case .closed: break
            }
        }
        return report
    }
}
