import Synchronization

/// A store that lives in this process only: for unit tests of code that uses breakers.
///
/// It keeps the same contract as the shared stores (and passes the same conformance suite), but nothing in it is
/// shared with another process or survives the process. Like them, it compares names byte for byte (see
/// ``CircuitName``), not by Swift's canonical equivalence.
public final class InMemoryCircuitStore: CircuitStore {
    /// A name compared and hashed by its UTF-8 bytes, as SQL compares text.
    private struct Key: Hashable {
        var name: String
        init(_ name: String) { self.name = name }
        static func == (lhs: Key, rhs: Key) -> Bool { lhs.name.utf8.elementsEqual(rhs.name.utf8) }
        func hash(into hasher: inout Hasher) {
            for byte in name.utf8 { hasher.combine(byte) }
        }
    }

    private struct State {
        var records: [Key: CircuitRecord] = [:]
        var history: [HistoryEntry] = []
        var nextHistoryID: Int64 = 1
    }

    private let state = Mutex(State())
    private let clock: any WallClock
    /// How many transitions of each circuit the history keeps.
    public let historyLimit: Int

    /// Creates an empty store that reads time from `clock` and keeps the last `historyLimit` transitions
    /// of each circuit.
    public init(clock: any WallClock = SystemClock(), historyLimit: Int = 100) {
        self.clock = clock
        self.historyLimit = max(1, historyLimit)
    }

    public func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        let now = clock.now()
        return (state.withLock { $0.records[Key(name)] }, now)
    }

    public func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value {
        try state.withLock { state in
            let now = clock.now()
            var record = state.records[Key(name)]
            let result = try body(&record, now)
            if result.write, var record {
                record.updatedAt = now
                state.records[Key(name)] = record
            }
            for transition in result.transitions {
                state.history.append(HistoryEntry(id: state.nextHistoryID, transition: transition))
                state.nextHistoryID += 1
            }
            if !result.transitions.isEmpty {
                let kept = state.history.filter { Key($0.transition.circuit) == Key(name) }.suffix(historyLimit)
                let dropBelow = kept.first?.id ?? 0
                state.history.removeAll { Key($0.transition.circuit) == Key(name) && $0.id < dropBelow }
            }
            return result.value
        }
    }

    public func list() async throws -> (records: [CircuitRecord], now: Timestamp) {
        let now = clock.now()
        return (
            state.withLock { $0.records.values.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) } }, now
        )
    }

    public func remove(_ name: String) async throws -> Bool {
        state.withLock { $0.records.removeValue(forKey: Key(name)) != nil }
    }

    public func removeIdle(idleFor: Duration) async throws -> [String] {
        let cutoff = clock.now() - idleFor
        return state.withLock { state in
            let idle = state.records.values.filter { $0.isIdle(before: cutoff) }.map(\.name)
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for name in idle { state.records[Key(name)] = nil }
            return idle
        }
    }

    public func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
        let key = name.map(Key.init)
        let limit = max(0, limit)
        return state.withLock { state in
            let matching = state.history.filter { entry in
                (key.map { $0 == Key(entry.transition.circuit) } ?? true) && entry.id > (afterID ?? 0)
            }
            return Array(afterID == nil ? matching.suffix(limit) : matching.prefix(limit))
        }
    }
}
