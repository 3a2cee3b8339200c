import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The signals `circuitry` catches: passed on to the process group of `run`'s command, and the end of
/// `history --follow`.
///
/// The handler only touches atomics and calls `kill`, which is async-signal-safe.
/// https://man7.org/linux/man-pages/man7/signal-safety.7.html
enum Signals {
    /// Passed on to the command of `circuitry run`.
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

    /// The process group the handler passes signals to; 0 when there is none (yet, or any more).
    static let target = Atomic<Int32>(0)
    /// The last signal caught, or 0.
    static let received = Atomic<Int32>(0)
    /// A signal caught before the target was set, to pass on as soon as it is.
    static let pending = Atomic<Int32>(0)

    /// Catches each of `signals` that is not ignored. A signal ignored when `circuitry` started stays ignored, as
    /// a shell leaves it for a background job; the command inherits that across `exec`, while caught signals
    /// return to their default action in it.
    static func install(_ signals: [Int32]) {
        // Static stores are initialised lazily, which is not async-signal-safe: initialise them first.
        _ = target.load(ordering: .sequentiallyConsistent)
        _ = received.load(ordering: .sequentiallyConsistent)
        _ = pending.load(ordering: .sequentiallyConsistent)
        for signal in signals {
            var current = sigaction()
            guard sigaction(signal, nil, &current) == 0, !isIgnored(current) else { continue }
            var action = sigaction()
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_SIGINFO | SA_RESTART
            #if os(Linux)
            action.__sigaction_handler.sa_sigaction = handle
            #else
            action.__sigaction_u.__sa_sigaction = handle
            #endif
            sigaction(signal, &action, nil)
        }
    }

    /// Starts passing caught signals to the process group `group`, beginning with one caught before it existed.
    static func forward(toGroup group: pid_t) {
        target.store(group, ordering: .sequentiallyConsistent)
        let early = pending.exchange(0, ordering: .sequentiallyConsistent)
        if early != 0 { kill(-group, early) }
    }

    /// Stops passing signals on (the group's leader is about to be reaped; its id may then be reused).
    static func stopForwarding() {
        target.store(0, ordering: .sequentiallyConsistent)
    }

    private static func isIgnored(_ action: sigaction) -> Bool {
        #if os(Linux)
        let handler = action.__sigaction_handler.sa_handler
        #else
        let handler = action.__sigaction_u.__sa_handler
        #endif
        return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    #if os(Linux)
    private typealias SignalInfo = siginfo_t
    #else
    private typealias SignalInfo = __siginfo
    #endif
    private typealias Handler =
        @convention(c) (Int32, UnsafeMutablePointer<SignalInfo>?, UnsafeMutableRawPointer?)
        -> Void

    /// Records the signal and passes it on. A signal from the terminal (^C, ^\, a hang-up) is passed on too: it
    /// reaches `circuitry` only while its own group has the terminal (before the command's group is handed it),
    /// and the command, in a group of its own, would not get it otherwise.
    private static let handle: Handler = { signal, _, _ in
        Signals.received.store(signal, ordering: .sequentiallyConsistent)
        let group = Signals.target.load(ordering: .sequentiallyConsistent)
        if group > 0 {
            kill(-group, signal)
        } else {
            Signals.pending.store(signal, ordering: .sequentiallyConsistent)
        }
    }
}
