import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a command ended, from `waitpid`'s status.
enum ChildEnding: Sendable, Hashable {
    /// It exited with this status.
    case exited(Int32)
    /// A signal killed it.
    case killed(signal: Int32)

    /// The status a shell reports: the exit status, or 128 + the signal.
    var shellStatus: Int32 {
        switch self {
        case .exited(let status): status
        case .killed(let signal): ExitStatus.killed(by: signal)
        }
    }

    /// Whether `signal` ended the command: it killed it, or the command exited with 128 + its number, as a shell
    /// (or a JVM) does after handling it.
    func isEnd(by signal: Int32) -> Bool {
        self == .killed(signal: signal) || self == .exited(ExitStatus.killed(by: signal))
    }

    /// Decodes a `waitpid` status (what the `WIFEXITED`/`WEXITSTATUS`/`WTERMSIG` macros do, which Swift cannot call).
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .killed(signal: signal)
    }
}

/// A command could not be started.
struct SpawnFailure: Error, CustomStringConvertible {
    /// The command's name.
    var command: String
    /// `errno` from `posix_spawnp`.
    var errorNumber: Int32

    /// 127 when the command was not found, 126 when it was found but could not be executed, as a shell reports.
    var shellStatus: Int32 {
        errorNumber == ENOENT ? ExitStatus.commandNotFound : ExitStatus.cannotExecute
    }

    var description: String {
        "cannot run \"\(command)\": \(String(cString: strerror(errorNumber)))"
    }
}

/// Runs a command as a child in a process group of its own, so that `--timeout` and the signals passed on reach
/// everything the command started (a shell's own children too), and nothing else: not `circuitry`, and not the other
/// commands of a pipeline that `circuitry` is part of.
///
/// When `circuitry` runs in the foreground of a terminal, the command's group is made the terminal's foreground
/// group while it runs, as a shell does for a job: the command reads the terminal, and a ^C, ^\ or ^Z typed there
/// reaches the command and what it started. A command stopped by ^Z stops `circuitry` too (so that the shell sees
/// the job stopped), and `fg` continues both. See ``JobControl``.
enum ChildProcess {
    /// How a run ended: how the command ended, whether `--timeout` killed it, and whether its group held the
    /// terminal (so that a ^C typed there reached it without passing through `circuitry`).
    struct Result: Sendable, Hashable {
        var ending: ChildEnding
        var timedOut: Bool
        var heldTerminal = false
    }

    /// Starts `arguments[0]`, looked up in `PATH`, with the rest as its arguments, as the leader of a new process
    /// group (whose id is its pid).
    static func spawn(_ arguments: [String]) throws(SpawnFailure) -> pid_t {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        #if canImport(Darwin)
        var attributes: posix_spawnattr_t? = nil
        #else
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The command starts with no signal blocked. Without this it would inherit the mask of the thread that
        // spawns it, and the executor's threads block SIGINT, SIGTERM, SIGHUP and more: the command could not be
        // interrupted. (Caught signals return to their default action at exec; ignored ones stay ignored.)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        // > If the POSIX_SPAWN_SETPGROUP flag is set and the spawn-pgroup attribute is 0, the child is in a new
        // > process group whose ID is its PID.
        // > https://man7.org/linux/man-pages/man3/posix_spawn.3.html
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        var pid: pid_t = 0
        // > posix_spawnp() returns an error number on failure (glibc reports exec failures too, since 2.24).
        let result = posix_spawnp(&pid, arguments[0], nil, &attributes, &argv, environ)
        guard result == 0 else { throw SpawnFailure(command: arguments[0], errorNumber: result) }
        return pid
    }

    /// Waits for the command `pid` (the leader of its own group) to end and reaps it, looking after the terminal
    /// meanwhile (``JobControl``). After `timeout`, sends its group SIGTERM, and SIGKILL if the command still runs
    /// `killAfter` later; the result then says it timed out. `whenEnded` runs once it has ended, before it is
    /// reaped (its pid, and so its group's id, cannot be reused yet).
    static func wait(
        for pid: pid_t, timeout: Duration?, killAfter: Duration, whenEnded: @escaping @Sendable () -> Void
    ) async -> Result {
        let jobControl = JobControl(group: pid)
        let timedOut = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await jobControl.waitForExit()
                return true
            }
            if let timeout {
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return false
                }
            }
            var timedOut = false
            while let exited = await group.next() {
                if exited {
                    group.cancelAll()
                    return timedOut
                }
                // A timer fired. The command is not reaped yet, so its group's id cannot have been reused.
                if timedOut {
                    kill(-pid, SIGKILL)
                } else {
                    timedOut = true
                    signalGroup(pid, SIGTERM)
                    group.addTask {
                        try? await Task.sleep(for: killAfter)
                        return false
                    }
                }
            }
            preconditionFailure("the waiting task always returns")
        }
        whenEnded()
        let heldTerminal = jobControl.finish()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        return Result(ending: ChildEnding(waitStatus: status), timedOut: timedOut, heldTerminal: heldTerminal)
    }

    /// Sends `signal` to the process group `group`, then SIGCONT, so that a member stopped by job control acts on it
    /// (as GNU `timeout` does). Async-signal-safe.
    static func signalGroup(_ group: pid_t, _ signal: Int32) {
        kill(-group, signal)
        if signal != SIGKILL, signal != SIGCONT { kill(-group, SIGCONT) }
    }
}
