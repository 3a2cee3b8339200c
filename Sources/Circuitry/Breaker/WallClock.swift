import Foundation
import Synchronization

/// The source of "now" for a store: wall-clock time in milliseconds.
///
/// Inject a ``ManualClock`` in tests to move time without sleeping.
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

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) {
        current.withLock { $0 = $0 + duration }
    }

    /// Sets the clock to `instant`.
    public func set(to instant: Timestamp) {
        current.withLock { $0 = instant }
    }
}
