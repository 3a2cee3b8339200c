import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How long and how a store waits for another process's lock.
///
/// SQLite's own `sqlite3_busy_timeout` sleeps 1, 2, 5, 10 … ms between tries, which gave worst-case waits of
/// 180 ms–1.9 s with 4–8 processes on 2 cores. Waits back off exponentially from `initialDelayMicroseconds` to
/// `maximumDelayMicroseconds` with jitter, and give up once `bound` has passed since the lock was first refused.
/// https://www.sqlite.org/c3ref/busy_handler.html
struct BusyPolicy: Sendable {
    var bound: Duration
    var initialDelayMicroseconds: UInt32 = 20
    var maximumDelayMicroseconds: UInt32 = 250
}

/// The schedule of one wait for a lock: the pause before each new try, until the bound is spent.
struct BusyBackoff {
    let policy: BusyPolicy
    /// When the lock was first refused.
    let startedAt: UInt64
    /// Pauses taken so far.
    private(set) var pauses = 0

    init(_ policy: BusyPolicy, startedAt: UInt64 = monotonicNanoseconds()) {
        self.policy = policy
        self.startedAt = startedAt
    }

    /// How long to pause before the next try, in microseconds, or `nil` once `bound` has passed since
    /// ``startedAt``. The pause never reaches past the bound, so that the last try happens at the bound.
    mutating func nextPause(now: UInt64 = monotonicNanoseconds()) -> UInt64? {
        let bound = UInt64(max(0, policy.bound.nanoseconds))
        let elapsed = now &- startedAt
        guard elapsed < bound else { return nil }
        let step = min(
            UInt64(policy.initialDelayMicroseconds) << min(pauses, 16), UInt64(policy.maximumDelayMicroseconds))
        // Jitter between half the step and the step, so that waiting processes do not wake in lockstep.
        let pause = min(UInt64.random(in: (step / 2)...max(step / 2, step)), max(1, (bound - elapsed) / 1000))
        pauses += 1
        return pause
    }

    /// Time since the lock was first refused.
    func waited(now: UInt64 = monotonicNanoseconds()) -> UInt64 { now &- startedAt }
}

/// Sleeps for `microseconds` without holding any lock or thread, and does not end early when the calling task is
/// cancelled.
///
/// A write that waits for another process's lock is often recording the outcome of work that already ran, or
/// flushing batched successes: those must complete even when the caller's task is cancelled, bounded by the busy
/// timeout (DESIGN.md). `Task.sleep` throws at once in a cancelled task, which would end the wait early (the
/// outcome lost) or, retried, turn the backoff into a spin. A continuation resumed by a timer ignores cancellation.
/// The timer fires on a Dispatch thread, not on the cooperative pool, and the task then resumes on its own
/// executor (a task executor it prefers, or the global one).
///
/// On Linux a timer wakes about 30–60 µs late (the kernel's default timer slack is 50 µs). Measured on 2 loaded
/// cores, median of 300 sleeps: `Task.sleep` for 20 µs took 52 µs, for 50 µs 91 µs, for 250 µs 312 µs; this timer
/// (no leeway) 52, 88 and 310 µs. That is close enough to the schedule that a thread of our own for precise
/// sleeps would not pay for itself: the backoff simply starts a little slower than asked.
func sleepIgnoringCancellation(microseconds: UInt64) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + .microseconds(Int(clamping: microseconds)), leeway: .nanoseconds(0))
        timer.setEventHandler {
            // Cancelling releases the handler, and with it this reference to the timer.
            timer.cancel()
            continuation.resume()
        }
        timer.activate()
    }
}

/// The busy handler used while a store opens its database, which is synchronous (the store's initialiser): it
/// sleeps in the calling thread between tries, within the bound. Once the store is open, its connection has no busy
/// handler at all: SQLite then fails a locked attempt at once with SQLITE_BUSY, and the store waits asynchronously.
final class OpeningBusyHandler {
    let policy: BusyPolicy
    private var backoff: BusyBackoff?

    init(policy: BusyPolicy) { self.policy = policy }

    /// Sleeps before try number `attempt` (0 for the first retry of a new wait), unless the wait has used up the
    /// bound. Returns whether to try again.
    func backOff(attempt: Int) -> Bool {
        if attempt == 0 || backoff == nil { backoff = BusyBackoff(policy) }
        guard let pause = backoff?.nextPause() else { return false }
        usleep(useconds_t(pause))
        return true
    }
}

/// > The first argument to the busy handler is a copy of the void* pointer which is the third argument to
/// > sqlite3_busy_handler(). The second argument to the busy handler callback is the number of times that the busy
/// > handler has been invoked previously for the same locking event. If the busy callback returns 0, then no
/// > additional attempts are made to access the database and SQLITE_BUSY is returned to the application.
func openingBusyCallback(_ context: UnsafeMutableRawPointer?, _ invocations: Int32) -> Int32 {
    guard let context else { return 0 }
    let handler = Unmanaged<OpeningBusyHandler>.fromOpaque(context).takeUnretainedValue()
    return handler.backOff(attempt: Int(invocations)) ? 1 : 0
}

/// A monotonic clock in nanoseconds (not stepped by NTP or an operator).
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}
