import Synchronization

/// This process's recent view of its circuits, for ``BreakerFactory/Configuration/maximumStaleness``: the record each
/// circuit had when this process last read or wrote it, and how old that observation is by the monotonic clock.
///
/// The engine admits a call, or batches a success, from a record seen here only while it is at most the bound old and
/// closed; everything else (an open or half-open circuit, a write of any kind, an operator's read) goes to the store.
/// Every read and write of the store by this process refreshes the view, so a process that itself wrote a failure, a
/// trip or an override, or was rejected, acts on it at once.
final class LocalView: Sendable {
    private struct Entry: Sendable {
        var record: CircuitRecord
        /// The store's time in the answer that carried the record.
        var storeNow: Timestamp
        /// When the request that carried the record was sent: the record is at most this old, whenever the store
        /// took it between sending and answering.
        var askedAt: ContinuousClock.Instant
        /// When the answer arrived: the store's time is estimated from here, so that it is never ahead of the store.
        var answeredAt: ContinuousClock.Instant
    }

    /// The most circuits kept; past it, entries older than the bound are dropped, and if none is, all of them.
    static let maximumEntries = 10_000

    let maximumStaleness: Duration
    private let monotonicNow: @Sendable () -> ContinuousClock.Instant
    private let entries = Mutex<[String: Entry]>([:])

    init(maximumStaleness: Duration, monotonicNow: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.maximumStaleness = maximumStaleness
        self.monotonicNow = monotonicNow
    }

    /// The monotonic instant to pass to ``remember(_:_:now:askedAt:)`` for a request sent now.
    func clock() -> ContinuousClock.Instant { monotonicNow() }

    /// The circuit's record as this process last saw it, and the store's time now as estimated from that answer, if
    /// the record was closed and is at most ``maximumStaleness`` old.
    func closedRecord(_ name: String) -> (record: CircuitRecord, now: Timestamp)? {
        let now = monotonicNow()
        guard let entry = entries.withLock({ $0[name] }), entry.record.state == .closed,
            now - entry.askedAt <= maximumStaleness
        else { return nil }
        return (entry.record, entry.storeNow + (now - entry.answeredAt))
    }

    /// Keeps what the store answered to a request sent at `askedAt`: the circuit's record (`nil`: it has none, and the
    /// view forgets it) and the store's time. An answer to an earlier request does not replace a later one's.
    func remember(_ name: String, _ record: CircuitRecord?, now storeNow: Timestamp, askedAt: ContinuousClock.Instant) {
        let answeredAt = monotonicNow()
        entries.withLock { entries in
            if let current = entries[name], current.askedAt > askedAt { return }
            guard let record else {
                entries[name] = nil
                return
            }
            if entries.count >= Self.maximumEntries, entries[name] == nil {
                entries = entries.filter { answeredAt - $0.value.askedAt <= maximumStaleness }
                if entries.count >= Self.maximumEntries { entries.removeAll(keepingCapacity: true) }
            }
            entries[name] = Entry(record: record, storeNow: storeNow, askedAt: askedAt, answeredAt: answeredAt)
        }
    }

    /// What one atomic update saw and left: filled in by the update's body (the last run of it, if the store ran it
    /// again after a conflict), then passed to ``remember(_:_:)``.
    final class Observation {
        let askedAt: ContinuousClock.Instant
        private(set) var record: CircuitRecord?
        private(set) var now: Timestamp?

        init(askedAt: ContinuousClock.Instant) { self.askedAt = askedAt }

        func keep(_ record: CircuitRecord?, now: Timestamp) {
            self.record = record
            self.now = now
        }
    }

    /// Keeps what an update committed (or found, when it wrote nothing), if its body ran.
    func remember(_ name: String, _ observation: Observation) {
        guard let now = observation.now else { return }
        remember(name, observation.record, now: now, askedAt: observation.askedAt)
    }

    /// Forgets the circuit (removed from the store by this process).
    func forget(_ name: String) {
        _ = entries.withLock { $0.removeValue(forKey: name) }
    }
}
