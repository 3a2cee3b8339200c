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

    private static let sharedServer = Task { try TestRedisServer() }

    /// A one-node Redis Cluster that serves every slot, shared like ``shared()``: it refuses any command or script
    /// whose keys fall in more than one hash slot (`CROSSSLOT`), as a real cluster does.
    package static func sharedCluster() async throws -> TestRedisServer {
        try await sharedClusterServer.value
    }

    private static let sharedClusterServer = Task { try TestRedisServer(cluster: true) }

    package let port: Int
    package let folder: String
    package let isCluster: Bool
    private let arguments: [String]
    private let process = Mutex<Process?>(nil)

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
                ? ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", "\(try Self.freePort())"]
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
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.binary)
        server.arguments = arguments
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        process.withLock { $0 = server }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard server.isRunning else {
                throw Failure(description: "redis-server exited with \(server.terminationStatus): \(logTail())")
            }
            if (try? cli(["PING"], check: false)) == "PONG" { return }
            usleep(20_000)
        }
        throw Failure(description: "redis-server did not answer within 30 s: \(logTail())")
    }

    /// Stops the server: `crash` is SIGKILL (nothing flushed that was not already); otherwise SIGTERM, a clean
    /// shutdown.
    package func stop(crash: Bool = false) {
        guard let server = process.withLock({ $0.take() }) else { return }
        kill(server.processIdentifier, SIGCONT)
        kill(server.processIdentifier, crash ? SIGKILL : SIGTERM)
        server.waitUntilExit()
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: a server that stops answering without closing its
    /// connections, as a hung or partitioned host does. The kernel still accepts new TCP connections.
    package func freeze(_ frozen: Bool) {
        guard let pid = process.withLock({ $0?.processIdentifier }) else { return }
        kill(pid, frozen ? SIGSTOP : SIGCONT)
    }

    /// Runs `redis-cli` against the server and returns its output, trimmed. `--no-auth-warning` and the password
    /// come from `password` (sent as `-a`).
    @discardableResult
    package func cli(_ arguments: [String], database: Int = 0, password: String? = nil, check: Bool = true) throws
        -> String
    {
        let output = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.cliBinary)
        var all = ["-h", "127.0.0.1", "-p", "\(port)", "-n", "\(database)", "--no-auth-warning"]
        if let password { all += ["-a", password] }
        process.arguments = all + arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if check, process.terminationStatus != 0 || text.hasPrefix("ERR") || text.hasPrefix("(error)") {
            throw Failure(description: "redis-cli \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    private func logTail() -> String {
        let text = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }

    /// A port that was free a moment ago: bound to 127.0.0.1:0 and released.
    package static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(socket, address, length) == 0 && getsockname(socket, address, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "could not find a free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

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
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        watchdog.arguments = ["/bin/sh", "-c", script]
        watchdog.standardInput = FileHandle.nullDevice
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try? watchdog.run()
    }
}
