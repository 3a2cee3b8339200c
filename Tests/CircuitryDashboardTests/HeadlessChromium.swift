#if Dashboard
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol through `--remote-debugging-pipe`:
/// commands go to its file descriptor 3 and answers come from its descriptor 4, as JSON messages ended by a NUL
/// byte. No WebSocket, no port: the browser is this test's child alone.
///
/// https://chromedevtools.github.io/devtools-protocol/
final class HeadlessChromium {
    /// The browser: `$CIRCUITRY_CHROMIUM`, or `chromium` on the `PATH`; `nil` if there is none.
    static var executable: String? {
        if let path = ProcessInfo.processInfo.environment["CIRCUITRY_CHROMIUM"] { return path }
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        for name in ["chromium", "chromium-browser"] {
            for folder in folders where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
                return "\(folder)/\(name)"
            }
        }
        return nil
    }

    private let pid: pid_t
    private let commands: Int32
    private let answers: Int32
    private var received: [UInt8] = []
    private var nextID = 0
    private var session: String?

    /// Starts the browser with a profile in `folder`, its output in `folder/chromium.log`.
    init(folder: String, width: Int = 1400, height: Int = 900) throws {
        guard let executable = Self.executable else {
            throw HTTPClientError("no chromium: install Debian's chromium (.ci/run does), or set CIRCUITRY_CHROMIUM")
        }
        let toBrowser = try Self.pipe()
        let fromBrowser = try Self.pipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the new descriptors; the pipes' own (at 10 or above) stay close-on-exec.
        posix_spawn_file_actions_adddup2(&actions, toBrowser.read, 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser.write, 4)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "\(folder)/chromium.log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "\(folder)/chromium.log", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let arguments = [
            executable, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
            "--user-data-dir=\(folder)/chromium-profile", "--window-size=\(width),\(height)", "about:blank",
        ]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(toBrowser.read)
        close(fromBrowser.write)
        guard spawned == 0 else {
            close(toBrowser.write)
            close(fromBrowser.read)
            throw HTTPClientError("cannot start \(executable): error \(spawned)")
        }
        self.pid = pid
        commands = toBrowser.write
        answers = fromBrowser.read
        _ = fcntl(answers, F_SETFL, fcntl(answers, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(commands)
        close(answers)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// A close-on-exec pipe whose ends are at 10 or above, clear of the descriptors 3 and 4 the browser gets.
    private static func pipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard Glibc.pipe(&ends) == 0 else { throw HTTPClientError("pipe: errno \(errno)") }
        let read = fcntl(ends[0], F_DUPFD_CLOEXEC, 10)
        let write = fcntl(ends[1], F_DUPFD_CLOEXEC, 10)
        close(ends[0])
        close(ends[1])
        return (read, write)
    }

    /// Sends a command (to the page's session once ``open(_:)`` attached to one) and waits for its answer's
    /// `result`, skipping events.
    @discardableResult
    func send(_ method: String, _ parameters: [String: Any] = [:], timeout: Duration = .seconds(30)) async throws
        -> [String: Any]
    {
        nextID += 1
        let id = nextID
        var message: [String: Any] = ["id": id, "method": method, "params": parameters]
        if let session, !method.hasPrefix("Target.") { message["sessionId"] = session }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message)) + [0]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(commands, $0.baseAddress, $0.count) }
            guard written > 0 else { throw HTTPClientError("writing to chromium: errno \(errno)") }
            bytes.removeFirst(written)
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            while let end = received.firstIndex(of: 0) {
                let data = Data(received[..<end])
                received.removeFirst(end + 1)
                guard let answer = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                    answer["id"] as? Int == id
                else { continue }
                if let error = answer["error"] { throw HTTPClientError("\(method): \(error)") }
                return answer["result"] as? [String: Any] ?? [:]
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let count = chunk.withUnsafeMutableBytes { Glibc.read(answers, $0.baseAddress, $0.count) }
            if count > 0 {
                received += chunk[..<count]
            } else if count == 0 {
                throw HTTPClientError("chromium closed its pipe")
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                guard ContinuousClock.now < deadline else { throw HTTPClientError("\(method): no answer") }
                try await Task.sleep(for: .milliseconds(5))
            } else {
                throw HTTPClientError("reading from chromium: errno \(errno)")
            }
        }
    }

    /// Opens `url` in a new page and attaches to it: the commands that follow go to that page.
    func open(_ url: String) async throws {
        let target = try await send("Target.createTarget", ["url": url])
        let attached = try await send(
            "Target.attachToTarget", ["targetId": target["targetId"] as? String ?? "", "flatten": true])
        session = attached["sessionId"] as? String
    }

    /// The value of a JavaScript expression in the page (JSON values only).
    func evaluate(_ expression: String) async throws -> Any? {
        let answer = try await send("Runtime.evaluate", ["expression": expression, "returnByValue": true])
        if let exception = answer["exceptionDetails"] { throw HTTPClientError("\(expression): \(exception)") }
        return (answer["result"] as? [String: Any])?["value"]
    }

    /// A PNG of the page as it is shown.
    func screenshot() async throws -> Data {
        let answer = try await send("Page.captureScreenshot", ["format": "png"])
        return Data(base64Encoded: answer["data"] as? String ?? "") ?? Data()
    }
}
#endif
