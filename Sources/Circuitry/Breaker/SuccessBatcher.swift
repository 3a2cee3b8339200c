import Synchronization

/// Successes of closed circuits that this process has not written yet.
///
/// A success of a closed circuit with no failure since the last success changes no decision, so the breaker does
/// not take the write lock for it: it counts it here and writes the sum with the circuit's next write, or when
/// the batch is `maximumCount` large or `maximumAge` old (checked as calls arrive), or on ``BreakerFactory/flush()``.
/// While ``BreakerFactory/flushUntilCancelled()`` runs (a service of the application's lifecycle), it also writes each
/// batch when it is `maximumAge` old, calls or none. Successes of an older generation are dropped when they are
/// folded in.
///
/// A batch's age is measured by the monotonic clock, not the wall clock, so that a step of the wall clock neither
/// writes every batch at once (forward) nor holds them back for the size of the step (backward).
final class SuccessBatcher: Sendable {
    struct Batch: Sendable {
        var successes: BatchedSuccesses
        /// When the first success of the batch was counted, by the monotonic clock.
        var since: ContinuousClock.Instant
        /// The breaker that started the batch: a flush writes it as that breaker's operation, so that a transition it
        /// commits is announced with the breaker's base name (metrics) and context (callback).
        var circuit: CircuitIdentity
    }

    private let batches = Mutex<[String: Batch]>([:])
    let maximumCount: Int64
    let maximumAge: Duration
    private let monotonicNow: @Sendable () -> ContinuousClock.Instant

    /// - Parameter monotonicNow: The monotonic clock (tests inject one).
    init(
        maximumCount: Int64, maximumAge: Duration,
        monotonicNow: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.maximumCount = maximumCount
        self.maximumAge = maximumAge
        self.monotonicNow = monotonicNow
    }

    /// Counts one success of `circuit` in `generation`, whose stored record had `failures` failures; returns `true`
    /// when the circuit's batch should be written now.
    func add(_ circuit: CircuitIdentity, generation: Int64, failures: Int64) -> Bool {
        let now = monotonicNow()
        return batches.withLock { batches in
            if var batch = batches[circuit.name], batch.successes.generation == generation {
                batch.successes.add(failures: failures)
                batches[circuit.name] = batch
                return batch.successes.count >= maximumCount || now - batch.since >= maximumAge
            }
            // A batch of an older generation would be dropped when folded: start over.
            batches[circuit.name] = Batch(
                successes: BatchedSuccesses(generation: generation, failures: failures), since: now, circuit: circuit)
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
            if var current = batches[name], current.successes.generation == batch.successes.generation {
                current.successes.prepend(batch.successes)
                current.since = min(current.since, batch.since)
                batches[name] = current
            } else if batches[name] == nil {
                batches[name] = batch
            }
        }
    }

    /// The breakers that started the batches waiting now, one per circuit.
    var circuits: [CircuitIdentity] { batches.withLock { $0.values.map(\.circuit) } }

    /// The breakers of the batches that are `maximumAge` old or older now, one per circuit.
    var dueCircuits: [CircuitIdentity] {
        let now = monotonicNow()
        return batches.withLock { batches in
            batches.values.filter { now - $0.since >= maximumAge }.map(\.circuit)
        }
    }

    /// How long until the oldest batch is `maximumAge` old (zero if one is already), or `nil` if nothing is batched.
    var untilNextDue: Duration? {
        let now = monotonicNow()
        return batches.withLock { batches in
            batches.values.map(\.since).min().map { max(.zero, maximumAge - (now - $0)) }
        }
    }

    /// The number of successes waiting for `name`.
    func pending(_ name: String) -> Int64 { batches.withLock { $0[name]?.successes.count ?? 0 } }
}
