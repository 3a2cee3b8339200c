import Foundation
import Synchronization

@testable import Circuitry

extension SQLiteCircuitStore {
    /// Adds one failure to circuit `name` (creating it), in one write transaction; returns the new count.
    @discardableResult
    func addFailure(_ name: String) async throws -> Int64 {
        try await update(name) { record, now in
            var updated = record ?? CircuitRecord(name: name, createdAt: now)
            updated.counts.failures += 1
            record = updated
            return StoreUpdate(value: updated.counts.failures, write: true)
        }
    }

    /// The names of the stored circuits.
    func names() async throws -> [String] {
        try await list().records.map(\.name)
    }
}

/// Milliseconds since `start`, as a fraction.
func milliseconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

/// The size of the file at `path`, 0 if there is none.
func fileSize(_ path: String) -> Int64 {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
}

/// A monotonic clock that moves only when told to, for a batcher's or a factory's `monotonicNow`.
final class ManualMonotonicClock: Sendable {
    private let now = Mutex(ContinuousClock.now)
    func read() -> ContinuousClock.Instant { now.withLock { $0 } }
    func advance(by duration: Duration) { now.withLock { $0 += duration } }
}
