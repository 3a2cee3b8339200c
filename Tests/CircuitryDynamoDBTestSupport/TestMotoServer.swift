#if DynamoDB
import CircuitryTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real DynamoDB-compatible server that the tests start for themselves: moto 5's server (`pip install
/// 'moto[server]'`), on a free loopback port, stopped at the end.
///
/// moto's own `moto_server` serves requests on many threads without a lock around its tables, so two conditional
/// writes of one item can both pass their condition. DynamoDB never allows that, and the store's guarantees rest
/// on it: the server here runs moto's application behind one lock, one request at a time (connections stay open
/// and concurrent). The same wrapper can answer the next requests with injected failures
/// (``injectFaults(throttle:serverErrors:)``), as DynamoDB does when a table is over its capacity.
///
/// ``freeze(_:)`` stops the process (SIGSTOP) without closing its connections. ``Proxy`` is a TCP relay in front
/// of it that can be stopped and started again, for an endpoint that goes away while the tables stay.
///
/// No server outlives the test process: they are stopped at exit (`atexit`), and a watchdog shell kills them
/// should the test process die without running `atexit` handlers. If moto is not installed, starting fails with
/// a message that says so: the tests fail, they are not skipped.
package final class TestMotoServer: Sendable {
    /// The server most tests share (each test in tables of its own), started on first use.
    package static func shared() async throws -> TestMotoServer {
        try await sharedServer.value
    }

    /// The server of the cross-process tests, whose worker processes keep a server busy: a process of its own, so
    /// that the store's own tests do not wait in its line.
    package static func sharedForProcesses() async throws -> TestMotoServer {
        try await processesServer.value
    }

    private static let sharedServer = Task { try await TestMotoServer() }
    private static let processesServer = Task { try await TestMotoServer() }

    package let port: Int
    private let process = Mutex<Process?>(nil)
    private let log: String

    package struct Failure: Error, CustomStringConvertible {
        package var description: String

        package init(description: String) { self.description = description }
    }

    /// Starts the server; returns once it accepts connections (waiting asynchronously: starting moto takes seconds,
    /// and no thread of the cooperative pool may sleep that long).
    package init() async throws {
        port = try Self.freePort()
        log = FileManager.default.temporaryDirectory.appendingPathComponent("circuitry-moto-\(port).log").path
        let server = try Self.launch(script: Self.serverScript, arguments: ["\(port)"], log: log)
        process.withLock { $0 = server }
        Self.registerForCleanup(server)
        try await Self.waitForPort(port, process: server, what: "moto", log: log)
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give the store.
    package var endpoint: String { "http://127.0.0.1:\(port)" }

    /// `dynamodb://<table>?region=us-east-1&endpoint=…&create_table=true`.
    package func url(table: String) -> String {
        "dynamodb://\(table)?region=us-east-1&endpoint=\(endpoint)&create_table=true"
    }

    /// A table name no other test uses.
    package static func freshTable(_ prefix: String = "t") -> String {
        "\(prefix)-" + UUID().uuidString.lowercased().prefix(18)
    }

    /// Stops (SIGSTOP) or resumes (SIGCONT) the server: an endpoint that stops answering without closing its
    /// connections, as a partitioned network does. The kernel still accepts new connections.
    package func freeze(_ frozen: Bool) {
        guard let pid = process.withLock({ $0?.processIdentifier }) else { return }
        kill(pid, frozen ? SIGSTOP : SIGCONT)
    }

    /// Answers the next `throttle` DynamoDB requests with `ProvisionedThroughputExceededException` (HTTP 400), or
    /// the next `serverErrors` with `InternalServerError` (HTTP 500), without passing them to moto; or carries out
    /// the next `lostAnswers` and answers `InternalServerError` all the same. With `only`, just requests of that
    /// operation (`PutItem`) are touched.
    package func injectFaults(throttle: Int = 0, serverErrors: Int = 0, lostAnswers: Int = 0, only: String = "")
        throws
    {
        let body =
            "{\"throttle\": \(throttle), \"error\": \(serverErrors), \"lost\": \(lostAnswers), \"only\": \"\(only)\"}"
        let answer = try Self.post(port: port, path: "/__circuitry/faults", body: body)
        guard answer.hasPrefix("HTTP/1.") && answer.contains(" 200 ") else {
            throw Failure(description: "the fault injection was refused: \(answer.prefix(200))")
        }
    }

    /// Requests received and faults injected so far: `{"requests": …, "throttled": …, "errors": …}`.
    package func counters() throws -> [String: Int] {
        let answer = try Self.post(port: port, path: "/__circuitry/faults", body: "{}")
        guard let start = answer.range(of: "\r\n\r\n")?.upperBound,
            let object = try JSONSerialization.jsonObject(with: Data(answer[start...].utf8)) as? [String: Any]
        else { throw Failure(description: "unreadable counters: \(answer.prefix(200))") }
        return object.compactMapValues { $0 as? Int }
    }

    /// Stops the server.
    package func stop() {
        guard let server = process.withLock({ $0.take() }) else { return }
        kill(server.processIdentifier, SIGCONT)
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
    }

    /// A TCP relay from a port of its own to the server: ``stop()`` makes the endpoint refuse connections (and
    /// drops the open ones), ``start()`` brings it back on the same port, and the server keeps its tables.
    package final class Proxy: Sendable {
        package let port: Int
        private let target: Int
        private let process = Mutex<Process?>(nil)

        /// Starts a relay to `server`.
        package init(to server: TestMotoServer) async throws {
            target = server.port
            port = try TestMotoServer.freePort()
            try await start()
        }

        /// `http://127.0.0.1:<port>`: the endpoint to give the store.
        package var endpoint: String { "http://127.0.0.1:\(port)" }

        /// Starts relaying; returns once the port accepts connections.
        package func start() async throws {
            let relay = try TestMotoServer.launch(
                script: TestMotoServer.proxyScript, arguments: ["\(port)", "\(target)"], log: nil)
            process.withLock { $0 = relay }
            TestMotoServer.registerForCleanup(relay)
            try await TestMotoServer.waitForPort(port, process: relay, what: "the relay", log: nil)
        }

        /// Kills the relay: its open connections are reset and new ones refused.
        package func stop() {
            guard let relay = process.withLock({ $0.take() }) else { return }
            kill(relay.processIdentifier, SIGKILL)
            relay.waitUntilExit()
        }
    }

    // MARK: Processes

    /// Starts `python3 -c script arguments…` with its output in the file `log` (created or truncated: a file of the
    /// test's own folder, never a path it does not own), or discarded when `log` is `nil`.
    fileprivate static func launch(script: String, arguments: [String], log: String?) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        var output = FileHandle.nullDevice
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            output = FileHandle(forWritingAtPath: log) ?? .nullDevice
        }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    fileprivate static func waitForPort(_ port: Int, process: Process, what: String, log: String?) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                let text = log.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
                let hint =
                    text.contains("No module named")
                    ? " moto is not installed: pip install 'moto[server]' (.ci/run installs it)." : ""
                throw Failure(
                    description: "\(what) exited with \(process.terminationStatus).\(hint) \(text.suffix(1500))")
            }
            if canConnect(port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "\(what) did not accept connections on port \(port) within 60 s")
    }

    private static func canConnect(_ port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = loopback(port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }

    /// One HTTP/1.0 POST on a fresh connection; the whole answer as text.
    private static func post(port: Int, path: String, body: String) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { throw Failure(description: "cannot connect to port \(port): errno \(errno)") }
        let request = Array(
            "POST \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        guard request.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw Failure(description: "could not send to port \(port)")
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer += buffer[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// A port that was free a moment ago: bound to 127.0.0.1:0 and released.
    package static func freePort() throws -> Int { try LoopbackPort.free() }

    /// A socket bound to a free port of 127.0.0.1 and not listening, and that port. The caller closes it.
    package static func boundLoopbackSocket() throws -> (socket: Int32, port: Int) { try LoopbackPort.boundSocket() }

    // MARK: Cleanup

    private static let processes = Mutex<[Process]>([])

    fileprivate static func registerForCleanup(_ process: Process) {
        let first = processes.withLock { processes in
            processes.append(process)
            return processes.count == 1
        }
        if first { atexit { TestMotoServer.killAll() } }
        // A shell in its own session that waits for this process to end, then kills the child.
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        watchdog.arguments = [
            "/bin/sh", "-c",
            "while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; kill -CONT \(process.processIdentifier); "
                + "kill -KILL \(process.processIdentifier) 2>/dev/null",
        ]
        watchdog.standardInput = FileHandle.nullDevice
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try? watchdog.run()
    }

    private static func killAll() {
        for process in processes.withLock({ $0 }) where process.isRunning {
            kill(process.processIdentifier, SIGCONT)
            kill(process.processIdentifier, SIGKILL)
        }
    }

    // MARK: Scripts

    /// moto's application behind one lock, with injectable faults and a count of requests.
    static let serverScript = """
        import json, sys, threading
        from werkzeug.serving import run_simple, WSGIRequestHandler
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()
        state = {"throttle": 0, "error": 0, "lost": 0, "only": "", "requests": 0, "throttled": 0, "errors": 0}

        def answer(start_response, status, document):
            data = json.dumps(document).encode()
            start_response(status, [("Content-Type", "application/x-amz-json-1.0"),
                                    ("Content-Length", str(len(data)))])
            return [data]

        def serialized(environ, start_response):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if environ.get("PATH_INFO") == "/__circuitry/faults":
                change = json.loads(environ["wsgi.input"].read(length) or b"{}")
                with lock:
                    state.update(change)
                    return answer(start_response, "200 OK", state)
            with lock:
                state["requests"] += 1
                target = environ.get("HTTP_X_AMZ_TARGET", "").split(".")[-1]
                if state["only"] and target != state["only"]:
                    return list(app(environ, start_response))
                if state["throttle"] > 0:
                    state["throttle"] -= 1
                    state["throttled"] += 1
                    environ["wsgi.input"].read(length)
                    return answer(start_response, "400 Bad Request", {
                        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                        "message": "injected by the test"})
                if state["lost"] > 0:
                    # The request is carried out, and its answer replaced by a failure: a write that landed
                    # although its client was told otherwise.
                    state["lost"] -= 1
                    state["errors"] += 1
                    list(app(environ, lambda status, headers, exc_info=None: None))
                    return answer(start_response, "500 Internal Server Error", {
                        "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                        "message": "injected by the test after the request was carried out"})
                if state["error"] > 0:
                    state["error"] -= 1
                    state["errors"] += 1
                    environ["wsgi.input"].read(length)
                    return answer(start_response, "500 Internal Server Error", {
                        "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                        "message": "injected by the test"})
                return list(app(environ, start_response))

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args, **kwargs):
                pass

        run_simple("127.0.0.1", int(sys.argv[1]), serialized, threaded=True, request_handler=Quiet)
        """

    /// A TCP relay: `proxy LISTEN_PORT TARGET_PORT`.
    static let proxyScript = """
        import asyncio, sys

        async def pipe(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except Exception:
                pass
            finally:
                writer.close()

        async def relay(client_reader, client_writer):
            try:
                server_reader, server_writer = await asyncio.open_connection("127.0.0.1", int(sys.argv[2]))
            except Exception:
                client_writer.close()
                return
            await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

        async def main():
            server = await asyncio.start_server(relay, "127.0.0.1", int(sys.argv[1]), reuse_address=True)
            async with server:
                await server.serve_forever()

        asyncio.run(main())
        """
}
#endif
