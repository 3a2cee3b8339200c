import Synchronization

/// A store that lives in this process only: for unit tests of code that uses breakers.
///
/// It keeps the same contract as the shared stores (and passes the same conformance suite), but nothing in it is
/// shared with another process or survives the process.
public final class InMemoryCircuitStore: CircuitStore {
    private struct State {
        var records: [String: CircuitRecord] = [:]
        var history: [HistoryEntry] = []
        var nextHistoryID: Int64 = 1
    }

    private let state = Mutex(State())
    private let clock: any WallClock
    private let historyLimit: Int

    /// Creates an empty store that reads time from `clock` and keeps the last `historyLimit` transitions
    /// of each circuit.
    public init(clock: any WallClock = SystemClock(), historyLimit: Int = 100) {
        self.clock = clock
        self.historyLimit = max(1, historyLimit)
    }

    public func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        let now = clock.now()
        return (state.withLock { $0.records[name] }, now)
    }

    public func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value {
        try state.withLock { state in
            let now = clock.now()
            var record = state.records[name]
            let result = try body(&record, now)
            if result.write, var record {
                record.updatedAt = now
                state.records[name] = record
            }
            for transition in result.transitions {
                state.history.append(HistoryEntry(id: state.nextHistoryID, transition: transition))
                state.nextHistoryID += 1
            }
            if !result.transitions.isEmpty {
                let kept = state.history.filter { $0.transition.circuit == name }.suffix(historyLimit)
                let dropBelow = kept.first?.id ?? 0
                state.history.removeAll { $0.transition.circuit == name && $0.id < dropBelow }
            }
            return result.value
        }
    }

    public func list() async throws -> (records: [CircuitRecord], now: Timestamp) {
        let now = clock.now()
        return (state.withLock { $0.records.values.sorted { $0.name < $1.name } }, now)
    }

    public func remove(_ name: String) async throws -> Bool {
        state.withLock { $0.records.removeValue(forKey: name) != nil }
    }

    public func removeIdle(idleFor: Duration) async throws -> [String] {
        let cutoff = clock.now() - idleFor
        return state.withLock { state in
            let idle = state.records.values.filter { $0.isIdle(before: cutoff) }.map(\.name).sorted()
            for name in idle { state.records[name] = nil }
            return idle
        }
    }

    public func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
        state.withLock { state in
            let matching = state.history.filter {
                (name == nil || $0.transition.circuit == name) && $0.id > (afterID ?? 0)
            }
            return Array(afterID == nil ? matching.suffix(limit) : matching.prefix(limit))
        }
    }
}
