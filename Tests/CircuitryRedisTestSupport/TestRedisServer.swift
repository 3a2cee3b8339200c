import CircuitryTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` that the tests start for themselves, in a fresh temporary folder, on a free loopback port.
///
/// No persistence unless asked for (`appendOnly`: `appendonly yes` with `appendfsync always`, for tests that restart
/// the server and count what survived). The server is stopped and its folder removed by ``stop()``, at the exit of the
/// test process (`atexit`), and, should the test process die without running `atexit` handlers, by a watchdog shell
/// that outlives it by at most half a second. No server survives the test process.
///
/// If Debian's `redis-server` is not installed, starting fails with a message that says so: the tests fail, they are
/// not skipped.
package final class TestRedisServer: Sendable {
    package static let binary = "/usr/bin/redis-server"
    package static let cliBinary = "/usr/bin/redis-cli"

    /// The server that most tests share, started on first use.
    package static func shared() async throws -> TestRedisServer {
        try await sharedServer.value
    }

    private static let sharedServer = Task { try await TestRedisServer.start() }

    /// A one-node Redis Cluster that serves every slot, shared like ``shared()``: it refuses any command or script
    /// whose keys fall in more than one hash slot (`CROSSSLOT`), as a real cluster does.
    package static func sharedCluster() async throws -> TestRedisServer {
        try await sharedClusterServer.value
    }

    private static let sharedClusterServer = Task { try await TestRedisServer.start(cluster: true) }

    /// ``init(appendOnly:cluster:extraArguments:)`` on a thread of its own: starting a server waits for it, and that
    /// wait must not hold one of the few threads that every test's asynchronous work runs on.
    package static func start(appendOnly: Bool = false, cluster: Bool = false, extraArguments: [String] = [])
        async throws -> TestRedisServer
    {
        try await offPool {
            try TestRedisServer(appendOnly: appendOnly, cluster: cluster, extraArguments: extraArguments)
        }
    }

    /// ``start()`` again (after ``stop(crash:)``), on a thread of its own.
    package func restart() async throws {
        try await Self.offPool { try self.start() }
    }

    /// Runs blocking work (processes, polling) on a Dispatch thread instead of the cooperative pool.
    private static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    package let port: Int
    package let folder: String
    package let isCluster: Bool
    private let arguments: [String]
    /// The running server's process id.
    private let process = Mutex<pid_t?>(nil)

    package struct Failure: Error, CustomStringConvertible {
        package var description: String

        package init(description: String) { self.description = description }
    }

    /// Starts a server; returns once it answers `PING`.
    ///
    /// - Parameters:
    ///   - appendOnly: Keep every write in an append-only file, flushed before the write is acknowledged, so that a
    ///     restart (even after SIGKILL) loses nothing acknowledged.
    ///   - cluster: Run as a one-node cluster that serves all 16384 slots.
    ///   - extraArguments: More configuration, as `redis-server` takes it on its command line (`--requirepass x`).
    package init(appendOnly: Bool = false, cluster: Bool = false, extraArguments: [String] = []) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw Failure(
                description: "redis-server is not installed: \(Self.binary) is missing. The Redis store's tests start "
                    + "a real server from Debian's redis-server package (apt-get install redis-server; .ci/run "
                    + "installs it).")
        }
        var template = Array("/tmp/circuitry-redis-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
        folder = String(cString: created)
        port = try Self.freePort()
        isCluster = cluster
        arguments =
            [
                "--port", "\(port)", "--bind", "127.0.0.1", "--dir", folder, "--daemonize", "no",
                "--logfile", folder + "/server.log", "--pidfile", folder + "/server.pid", "--save", "",
                "--protected-mode", "yes", "--databases", "16",
            ]
            + (appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"])
            // The cluster bus port is the port + 10000 unless set: a free port of its own instead.
            + (cluster
                ? [
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port",
                    "\(try Self.freePort())",
                ]
                : [])
            + extraArguments
        Self.registerForCleanup(self)
        try start()
        if cluster {
            try cli(["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
            let deadline = ContinuousClock.now + .seconds(30)
            while !(try cli(["CLUSTER", "INFO"])).contains("cluster_state:ok") {
                guard ContinuousClock.now < deadline else {
                    throw Failure(description: "the one-node cluster did not become ready within 30 s")
                }
                usleep(20_000)
            }
        }
    }

    /// `redis://127.0.0.1:<port>/<database>` with extra query parameters.
    package func url(database: Int = 0, parameters: String = "", credentials: String = "") -> String {
        "redis://\(credentials.isEmpty ? "" : credentials + "@")127.0.0.1:\(port)/\(database)"
            + (parameters.isEmpty ? "" : "?" + parameters)
    }

    /// Starts the server (again) with its configuration and folder, and waits until it answers.
    package func start() throws {
        let pid = try ChildProcess.spawn(Self.binary, arguments)
        process.withLock { $0 = pid }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let status = ChildProcess.exitStatus(pid) {
                process.withLock { $0 = nil }
                throw Failure(description: "redis-server exited with \(status): \(logTail())")
            }
            // A server with a password answers NOAUTH: it answers, which is all this waits for.
            if let answer = try? cli(["PING"], check: false), answer == "PONG" || answer.hasPrefix("NOAUTH") {
                return
            }
            usleep(20_000)
        }
        throw Failure(description: "redis-server did not answer within 30 s: \(logTail())")
    }

    /// Stops the server: `crash` is SIGKILL (nothing flushed that was not already); otherwise SIGTERM, a clean
    /// shutdown. Returns once the process has exited.
    package func stop(crash: Bool = false) {
        guard let pid = process.withLock({ $0.take() }) else { return }
        kill(pid, SIGCONT)
        kill(pid, crash ? SIGKILL : SIGTERM)
        ChildProcess.wait(pid)
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: a server that stops answering without closing its
    /// connections, as a hung or partitioned host does. The kernel still accepts new TCP connections.
    package func freeze(_ frozen: Bool) {
        guard let pid = process.withLock({ $0 }) else { return }
        kill(pid, frozen ? SIGSTOP : SIGCONT)
    }

    /// Runs `redis-cli` against the server and returns its output (standard output and error), trimmed; throws if it
    /// fails or answers with an error, unless `check` is false.
    @discardableResult
    package func cli(_ arguments: [String], database: Int = 0, password: String? = nil, check: Bool = true) throws
        -> String
    {
        var all = ["-h", "127.0.0.1", "-p", "\(port)", "-n", "\(database)", "--no-auth-warning"]
        if let password { all += ["-a", password] }
        let (status, output) = try ChildProcess.run(Self.cliBinary, all + arguments)
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
        if check, status != 0 || text.hasPrefix("ERR") || text.hasPrefix("(error)") || text.hasPrefix("WRONGTYPE") {
            throw Failure(description: "redis-cli \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    private func logTail() -> String {
        let text = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }

    /// A port that was free a moment ago: bound to 127.0.0.1:0 and released.
    package static func freePort() throws -> Int { try LoopbackPort.free() }

    // MARK: Cleanup

    private static let servers = Mutex<[TestRedisServer]>([])

    private static func registerForCleanup(_ server: TestRedisServer) {
        let first = servers.withLock { servers in
            servers.append(server)
            return servers.count == 1
        }
        if first { atexit { TestRedisServer.cleanUpAll() } }
        server.startWatchdog()
    }

    private static func cleanUpAll() {
        for server in servers.withLock({ $0 }) {
            server.stop(crash: true)
            try? FileManager.default.removeItem(atPath: server.folder)
        }
    }

    /// A shell in its own session that waits for this process to end, then kills the server (whichever process runs
    /// it now, from its pid file) and removes the folder.
    private func startWatchdog() {
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done
            if [ -f '\(folder)/server.pid' ]; then
                pid=$(cat '\(folder)/server.pid')
                kill -CONT "$pid" 2>/dev/null
                kill -KILL "$pid" 2>/dev/null
            fi
            rm -rf '\(folder)'
            """
        // `setsid -f`: the shell runs in a session of its own, and the setsid process itself exits at once.
        if let pid = try? ChildProcess.spawn("/usr/bin/setsid", ["-f", "/bin/sh", "-c", script]) {
            ChildProcess.wait(pid)
        }
    }
}

/// Child processes started with `posix_spawn` and reaped with `waitpid` by the code that started them.
///
/// Not Foundation's `Process`: its `waitUntilExit()` on Linux spins on the calling thread until a monitor thread has
/// seen the exit, and was seen to miss one, which left a test spinning on one of the two threads every test shares.
package enum ChildProcess {
    /// Held while a pipe is made and while a child is started, so that no child inherits a pipe end before it is
    /// marked close-on-exec.
    private static let spawning = Mutex(())

    /// Starts `executable` with `arguments`, its standard input, output and error on /dev/null.
    package static func spawn(_ executable: String, _ arguments: [String]) throws -> pid_t {
        try spawn(executable, arguments, output: nil)
    }

    /// Runs `executable` to its end and returns its exit status (or 128 + signal) and what it wrote to standard output
    /// and error.
    package static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        var fds: [Int32] = [0, 0]
        // Close-on-exec, set before any other child can start (spawns take the same lock): a server started meanwhile
        // must not keep the write end open, or the read below would wait for the server's end instead of this child's.
        let piped = spawning.withLock { _ in
            pipe(&fds) == 0 && fcntl(fds[0], F_SETFD, FD_CLOEXEC) == 0 && fcntl(fds[1], F_SETFD, FD_CLOEXEC) == 0
        }
        guard piped else { throw TestRedisServer.Failure(description: "pipe() failed: errno \(errno)") }
        let pid: pid_t
        do {
            pid = try spawn(executable, arguments, output: fds[1])
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fds[0], &chunk, chunk.count)
            if count > 0 {
                output += chunk[0..<count]
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(fds[0])
        return (wait(pid), String(decoding: output, as: UTF8.self))
    }

    /// Waits for `pid` to end and reaps it; its exit status, or 128 + the signal that ended it.
    @discardableResult
    package static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        return decode(status)
    }

    /// The exit status if `pid` has ended (it is reaped), `nil` if it still runs.
    package static func exitStatus(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 { return nil }
        return result < 0 ? -1 : decode(status)
    }

    private static func decode(_ status: Int32) -> Int32 {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (they are macros).
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    private static func spawn(_ executable: String, _ arguments: [String], output: Int32?) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
            posix_spawn_file_actions_adddup2(&actions, output, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // The spawning thread may block signals (Dispatch's threads do), and a child inherits the mask: redis-server
        // would then never see SIGTERM. The child starts with nothing blocked and default dispositions.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = spawning.withLock { _ in posix_spawn(&pid, executable, &actions, &attributes, argv, environ) }
        guard result == 0 else {
            throw TestRedisServer.Failure(
                description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }
}
