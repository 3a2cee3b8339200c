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

/// Runs a command as a child that shares `circuitry`'s standard input, output, error, environment and process group.
///
/// Staying in the caller's process group keeps job control working: the command can read the terminal, and the
/// terminal's ^C reaches it directly. Signals sent to `circuitry` itself are passed on (see ``Signals``).
enum ChildProcess {
    /// How a run ended: how the command ended, and whether `--timeout` killed it.
    struct Result: Sendable, Hashable {
        var ending: ChildEnding
        var timedOut: Bool
    }

    /// Starts `arguments[0]`, looked up in `PATH`, with the rest as its arguments.
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
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        // > posix_spawnp() returns an error number on failure (glibc reports exec failures too, since 2.24).
        // > https://man7.org/linux/man-pages/man3/posix_spawn.3.html
        let result = posix_spawnp(&pid, arguments[0], nil, &attributes, &argv, environ)
        guard result == 0 else { throw SpawnFailure(command: arguments[0], errorNumber: result) }
        return pid
    }

    /// Waits for `pid` to end and reaps it. After `timeout`, sends it SIGTERM, and SIGKILL if it is still running
    /// `killAfter` later; the result then says it timed out.
    static func wait(for pid: pid_t, timeout: Duration?, killAfter: Duration) async -> Result {
        let timedOut = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await waitForExit(of: pid)
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
                // A timer fired. The command is not reaped yet, so its pid cannot have been reused.
                if timedOut {
                    kill(pid, SIGKILL)
                } else {
                    timedOut = true
                    kill(pid, SIGTERM)
                    group.addTask {
                        try? await Task.sleep(for: killAfter)
                        return false
                    }
                }
            }
            preconditionFailure("the waiting task always returns")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        return Result(ending: ChildEnding(waitStatus: status), timedOut: timedOut)
    }

    /// Blocks a thread of its own (not one of the shared executor's) until `pid` has ended, without reaping it, so
    /// that a timer cannot signal a reused pid.
    private static func waitForExit(of pid: pid_t) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                var info = siginfo_t()
                // > WNOWAIT: leave the child in a waitable state; a later wait call can retrieve the status again.
                // > https://man7.org/linux/man-pages/man2/waitid.2.html
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
                continuation.resume()
            }
            thread.start()
        }
    }
}
