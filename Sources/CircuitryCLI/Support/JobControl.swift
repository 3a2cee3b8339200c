import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `circuitry run` does for the terminal while its command runs in a process group of its own: what a shell
/// does for a job, so that the command behaves as if the shell had started it.
///
/// - When `circuitry` is in the terminal's foreground, the command's group becomes the foreground: the command can
///   read the terminal, and what is typed there (^C, ^\, ^Z) reaches the command and everything it started.
/// - When ^Z (or reading the terminal from the background) stops the command, `circuitry` takes the terminal back
///   and stops itself, so that the shell sees the job stopped; when the shell continues it (`fg` or `bg`), it gives
///   the terminal back if it is in the foreground again, and continues the command.
/// - When the command has ended, `circuitry` takes the terminal back.
///
/// Without a terminal (a pipe, a service), none of this applies, and a command stopped by a signal stays stopped
/// until someone continues it.
/// https://www.gnu.org/software/libc/manual/html_node/Implementing-a-Shell.html
final class JobControl: Sendable {
    /// The command's process group (its pid).
    let group: pid_t
    /// `circuitry`'s own process group.
    private let ownGroup: pid_t
    /// The controlling terminal, opened for `tcsetpgrp`, or -1 when there is none.
    private let terminal: Int32
    /// Whether the command's group was ever the terminal's foreground group.
    private let handedOver = Atomic<Bool>(false)

    /// Takes charge of the command whose group is `group`; gives it the terminal if `circuitry` has it.
    init(group: pid_t) {
        self.group = group
        ownGroup = getpgrp()
        // > /dev/tty: the controlling terminal of the process, if any (ENXIO otherwise).
        // > https://man7.org/linux/man-pages/man4/tty.4.html
        terminal = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        if terminal >= 0, tcgetpgrp(terminal) == ownGroup { giveTerminal() }
    }

    /// Waits, on a thread of its own (not one of the shared executor's), until the command has ended, without
    /// reaping it; meanwhile passes on stops and continues as the class describes.
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                self.watch()
                continuation.resume()
            }
            thread.start()
        }
    }

    /// Takes the terminal back from the command's group once it has ended, and closes it. Returns whether the
    /// command's group ever had the terminal.
    func finish() -> Bool {
        if terminal >= 0 {
            if tcgetpgrp(terminal) == group { setForeground(ownGroup) }
            close(terminal)
        }
        return handedOver.load(ordering: .sequentiallyConsistent)
    }

    private func watch() {
        // Stops are watched only with a terminal: otherwise a command stopped on purpose (SIGSTOP, a debugger)
        // must stay stopped.
        let events = terminal >= 0 ? WEXITED | WSTOPPED : WEXITED
        while true {
            var info = siginfo_t()
            // > WNOWAIT: leave the child in a waitable state; a later wait call can retrieve the status again.
            // > https://man7.org/linux/man-pages/man2/waitid.2.html
            guard waitid(P_PID, id_t(group), &info, events | WNOWAIT) == 0 else {
                if errno == EINTR { continue }
                return
            }
            guard info.si_code == CLD_STOPPED else { return }
            // Consume this stop report, so that the next wait sees the next event.
            var consumed = siginfo_t()
            _ = waitid(P_PID, id_t(group), &consumed, WSTOPPED | WNOHANG)
            passOnStop(by: Self.status(info))
        }
    }

    private func passOnStop(by signal: Int32) {
        let foreground = tcgetpgrp(terminal)
        if signal == SIGTTIN || signal == SIGTTOU, foreground == group {
            // It touched the terminal before it was handed over, and has it now.
            kill(-group, SIGCONT)
            return
        }
        guard signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU else { return }  // SIGSTOP: left alone
        if foreground == group { setForeground(ownGroup) }
        stopSelf()
        // Continued by the shell, or never stopped (in an orphaned process group the kernel discards SIGTSTP, as
        // no shell could continue it).
        if tcgetpgrp(terminal) == ownGroup { giveTerminal() }
        kill(-group, SIGCONT)
    }

    private func giveTerminal() {
        setForeground(group)
        handedOver.store(true, ordering: .sequentiallyConsistent)
    }

    /// `tcsetpgrp` with SIGTTOU blocked in this thread.
    /// > If tcsetpgrp() is called by a member of a background process group in its session, and the calling process
    /// > is blocking or ignoring SIGTTOU, the operation is performed and no signal is sent.
    /// > https://pubs.opengroup.org/onlinepubs/9699919799/functions/tcsetpgrp.html
    private func setForeground(_ group: pid_t) {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTTOU)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        tcsetpgrp(terminal, group)
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    /// Stops `circuitry` as ^Z would (SIGTSTP, unblocked in this thread so that it is delivered here and now);
    /// returns once it is continued.
    private func stopSelf() {
        var stop = sigset_t()
        sigemptyset(&stop)
        sigaddset(&stop, SIGTSTP)
        var previous = sigset_t()
        pthread_sigmask(SIG_UNBLOCK, &stop, &previous)
        raise(SIGTSTP)
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    private static func status(_ info: siginfo_t) -> Int32 {
        #if os(Linux)
        info._sifields._sigchld.si_status
        #else
        info.si_status
        #endif
    }
}
