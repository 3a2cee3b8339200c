import CircuitryTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL 15 server that the tests start for themselves, in a fresh temporary folder, on a free loopback
/// port, with trust authentication on loopback.
///
/// PostgreSQL refuses to run as root, and tests and CI do run as root: `initdb` and `postgres` then run as `nobody`
/// through `setpriv`, in a folder owned by `nobody`. The server is stopped and its folder removed by ``stop()``, at
/// the exit of the test process (`atexit`), and, should the test process die without running `atexit` handlers, by a
/// watchdog shell that outlives it by at most half a second. No server survives the test process.
///
/// If Debian's `postgresql-15` is not installed, starting fails with a message that says so: the tests fail, they
/// are not skipped.
///
/// Its own target (with `package` access), shared by the PostgreSQL store's tests and the cross-process tests, so
/// that both use one server per test process.
package final class TestPostgresServer: Sendable {
    package static let binaries = "/usr/lib/postgresql/15/bin"

    /// The server that most tests share, started on first use.
    package static func shared() async throws -> TestPostgresServer {
        try await sharedServer.value
    }

    private static let sharedServer = Task { try await TestPostgresServer.make() }

    package let port: Int
    package let folder: String
    private var dataFolder: String { folder + "/data" }
    private let process = Mutex<Process?>(nil)
    /// Added to the server's environment (not to `initdb`'s or `psql`'s).
    private let environment: [String: String]

    package struct Failure: Error, CustomStringConvertible {
        package var description: String

        package init(description: String) { self.description = description }
    }

    /// Creates the cluster with `initdb` and starts the server, with `environment` added to its own; returns once it
    /// accepts connections. The waiting happens on a thread of its own (see ``onThreadOfItsOwn(_:)``).
    package static func make(environment: [String: String] = [:]) async throws -> TestPostgresServer {
        try await onThreadOfItsOwn { try TestPostgresServer(environment: environment) }
    }

    private init(environment: [String: String]) throws {
        self.environment = environment
        guard FileManager.default.isExecutableFile(atPath: Self.binaries + "/initdb") else {
            throw Failure(
                description: "PostgreSQL 15 is not installed: \(Self.binaries)/initdb is missing. The PostgreSQL "
                    + "store's tests start a real server from Debian's postgresql-15 package "
                    + "(apt-get install postgresql-15; .ci/run installs it).")
        }
        var template = Array("/tmp/circuitry-pg-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed: errno \(errno)") }
        folder = String(cString: created)
        port = try Self.freePort()
        if getuid() == 0 {
            // The server's own account: PostgreSQL will not run as root.
            guard chown(folder, 65534, 65534) == 0 else {
                throw Failure(description: "could not give \(folder) to nobody: errno \(errno)")
            }
        }
        Self.registerForCleanup(self)
        try run(
            Self.binaries + "/initdb",
            ["-D", dataFolder, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
        try startBlocking()
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>` with extra query parameters.
    package func url(database: String = "postgres", parameters: String = "") -> String {
        "postgres://postgres@127.0.0.1:\(port)/\(database)" + (parameters.isEmpty ? "" : "?" + parameters)
    }

    /// Starts the server on the existing cluster and waits until it accepts connections.
    package func start() async throws {
        try await onThreadOfItsOwn { try self.startBlocking() }
    }

    private func startBlocking() throws {
        let server = Process()
        let arguments = [
            "-D", dataFolder, "-p", "\(port)", "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=\(folder)", "-c", "max_connections=300",
            // Test data need not survive a crash of the machine; a crash of the server is what the tests make, and
            // committed data survives that through the WAL either way.
            "-c", "fsync=off",
        ]
        // The environment is set by `env` as the server's account, not in `setpriv`'s: a library preloaded there
        // would run as root first.
        let settings = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        (server.executableURL, server.arguments) = Self.asServerAccount(
            "/usr/bin/env", settings + [Self.binaries + "/postgres"] + arguments)
        let log = FileHandle(forWritingAtPath: try logFile()) ?? .nullDevice
        log.seekToEndOfFile()
        server.standardOutput = log
        server.standardError = log
        try server.run()
        process.withLock { $0 = server }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard server.isRunning else {
                throw Failure(description: "postgres exited with \(server.terminationStatus): \(logTail())")
            }
            if (try? run(Self.binaries + "/pg_isready", ["-q", "-h", "127.0.0.1", "-p", "\(port)"], check: false)) == 0
            {
                return
            }
            usleep(50_000)
        }
        throw Failure(description: "postgres did not accept connections within 30 s: \(logTail())")
    }

    /// Stops the server: `fast` rolls back open transactions and shuts down cleanly; `immediate` is a crash, after
    /// which the next start replays the WAL.
    /// Stops the server as a crash would, without waiting for it to go (for `defer`): its watchdog removes the
    /// folder once this process has ended.
    package func abandon() {
        guard let server = process.withLock({ $0.take() }) else { return }
        kill(server.processIdentifier, SIGQUIT)
    }

    package func stop(immediate: Bool = false) async {
        guard let server = process.withLock({ $0.take() }) else { return }
        kill(server.processIdentifier, immediate ? SIGQUIT : SIGINT)
        _ = try? await onThreadOfItsOwn { server.waitUntilExit() }
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server and every backend: a server that stops answering without
    /// closing its connections, as a hung or partitioned host does. The kernel still accepts new TCP connections.
    package func freeze(_ frozen: Bool) {
        guard let pid = process.withLock({ $0?.processIdentifier }) else { return }
        let signal = frozen ? SIGSTOP : SIGCONT
        // The postmaster first, so that it starts no backend in between.
        kill(pid, signal)
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ pid_t($0) }) { kill(child, signal) }
    }

    /// Runs SQL through `psql` and returns its unaligned output.
    @discardableResult
    package func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await onThreadOfItsOwn { try self.psqlBlocking(sql, database: database) }
    }

    private func psqlBlocking(_ sql: String, database: String) throws -> String {
        let output = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaries + "/psql")
        process.arguments = [
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres",
            "-d", database, "-c", sql,
        ]
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "psql failed (\(process.terminationStatus)) on: \(sql)")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func logFile() throws -> String {
        let path = folder + "/server.log"
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        return path
    }

    private func logTail() -> String {
        let text = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }

    /// Runs a helper program as the server's account and waits for it; throws on failure unless `check` is false.
    @discardableResult
    private func run(_ executable: String, _ arguments: [String], check: Bool = true) throws -> Int32 {
        let process = Process()
        (process.executableURL, process.arguments) = Self.asServerAccount(executable, arguments)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if check, process.terminationStatus != 0 {
            throw Failure(
                description:
                    "\(executable) failed (\(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))"
            )
        }
        return process.terminationStatus
    }

    private static func asServerAccount(_ executable: String, _ arguments: [String]) -> (URL, [String]) {
        guard getuid() == 0 else { return (URL(fileURLWithPath: executable), arguments) }
        return (
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=nobody", "--regid=nogroup", "--clear-groups", executable] + arguments
        )
    }

    /// A port that was free a moment ago: bound to 127.0.0.1:0 and released.
    package static func freePort() throws -> Int { try LoopbackPort.free() }

    /// A socket bound to a free port of 127.0.0.1 and not listening, and that port. The caller closes it.
    package static func boundLoopbackSocket() throws -> (socket: Int32, port: Int) { try LoopbackPort.boundSocket() }

    // MARK: Cleanup

    private static let servers = Mutex<[TestPostgresServer]>([])

    private static func registerForCleanup(_ server: TestPostgresServer) {
        let first = servers.withLock { servers in
            servers.append(server)
            return servers.count == 1
        }
        if first { atexit { TestPostgresServer.cleanUpAll() } }
        server.startWatchdog()
    }

    /// At exit: stops every server at once, without waiting. Waiting for a `Process` needs Foundation's run loop,
    /// which may be gone at exit (the test process then never ended); each server's watchdog waits for the server to
    /// go and removes its folder once this process has ended.
    private static func cleanUpAll() {
        for server in servers.withLock({ $0 }) { server.abandon() }
    }

    /// A shell in its own session that waits for this process to end, then stops the server (whichever process
    /// runs it now, from its pid file) and removes the folder.
    private func startWatchdog() {
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done
            if [ -f '\(dataFolder)/postmaster.pid' ]; then
                pid=$(head -n 1 '\(dataFolder)/postmaster.pid')
                kill -QUIT "$pid" 2>/dev/null
                while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
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
