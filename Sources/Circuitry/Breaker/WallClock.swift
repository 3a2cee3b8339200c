import Foundation
import Synchronization

/// The source of "now" for a store: wall-clock time in milliseconds.
///
/// Inject a ``ManualClock`` in tests to move time without sleeping.
///
/// A step of the wall clock (NTP, an operator): forward, it is time passing, so open periods end early and probe
/// leases in flight may expire and count as failed probes. Backward, it cannot hold a circuit for longer than its
/// configured durations: when a circuit is next evaluated, a deadline further ahead than the settings allow is
/// pulled in (a probe lease to at most ``BreakerSettings/probeTimeout`` from then, an open period to at most its own
/// length, a reset interval to at most its length); a forced-open `until` stays as the operator set it. How old a
/// batch of successes is, is measured on the monotonic clock, which does not step.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Timestamp
}

/// The system's wall clock (`Date()`).
public struct SystemClock: WallClock {
    /// Creates the system clock.
    public init() {}

    /// The current instant, from the system's wall clock.
    public func now() -> Timestamp { Timestamp(Date()) }
}

/// A clock that moves only when told to: for tests of code that uses breakers.
public final class ManualClock: WallClock {
    private let current: Mutex<Timestamp>

    /// Creates a clock that reads `start` until it is moved.
    public init(start: Timestamp = Timestamp(millisecondsSince1970: 1_800_000_000_000)) {
        current = Mutex(start)
    }

    /// The clock's current instant.
    public func now() -> Timestamp { current.withLock { $0 } }

    /// Moves the clock by `duration`: forward, or backward when it is negative (a wall-clock step).
    public func advance(by duration: Duration) {
        current.withLock { $0 = $0 + duration }
    }

    /// Sets the clock to `instant`.
    public func set(to instant: Timestamp) {
        current.withLock { $0 = instant }
    }
}
