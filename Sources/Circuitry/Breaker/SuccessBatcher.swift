import Synchronization

/// Successes of closed circuits that this process has not written yet.
///
/// A success of a closed circuit with no failure since the last success changes no decision, so the breaker does
/// not take the write lock for it: it counts it here and writes the sum with the circuit's next write, or when
/// the batch is `maximumCount` large or `maximumAge` old (checked as calls arrive; there are no timers), or on
/// ``BreakerFactory/flush()``. Successes of an older generation are dropped when they are folded in.
final class SuccessBatcher: Sendable {
    struct Batch: Sendable, Hashable {
        var generation: Int64
        var count: Int64
        var since: Timestamp
    }

    private let batches = Mutex<[String: Batch]>([:])
    let maximumCount: Int64
    let maximumAge: Duration

    init(maximumCount: Int64, maximumAge: Duration) {
        self.maximumCount = maximumCount
        self.maximumAge = maximumAge
    }

    /// Counts one success; returns `true` when the circuit's batch should be written now.
    func add(_ name: String, generation: Int64, now: Timestamp) -> Bool {
        batches.withLock { batches in
            if var batch = batches[name], batch.generation == generation {
                batch.count += 1
                batches[name] = batch
                return batch.count >= maximumCount || now - batch.since >= maximumAge
            }
            // A batch of an older generation would be dropped when folded: start over.
            batches[name] = Batch(generation: generation, count: 1, since: now)
            return maximumCount <= 1
        }
    }

    /// Removes and returns the circuit's batch, to fold it into a write.
    func take(_ name: String) -> Batch? {
        batches.withLock { $0.removeValue(forKey: name) }
    }

    /// Puts back a batch whose write failed, so that it is not lost.
    func restore(_ name: String, _ batch: Batch) {
        batches.withLock { batches in
            if var current = batches[name], current.generation == batch.generation {
                current.count += batch.count
                current.since = min(current.since, batch.since)
                batches[name] = current
            } else if batches[name] == nil {
                batches[name] = batch
            }
        }
    }

    /// The names of every circuit with a batch.
    var names: [String] { batches.withLock { Array($0.keys) } }

    /// The number of successes waiting for `name`.
    func pending(_ name: String) -> Int64 { batches.withLock { $0[name]?.count ?? 0 } }
}
