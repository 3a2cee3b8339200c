import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a worker process ended.
struct WorkerExit: Sendable, Equatable, CustomStringConvertible {
    /// The exit status, or the signal number when `signaled`.
    var status: Int32
    var signaled: Bool
    /// Whether the test killed it because it overran its time.
    var timedOut: Bool

    var succeeded: Bool { status == 0 && !signaled && !timedOut }

    var description: String {
        timedOut ? "killed after overrunning its time" : signaled ? "killed by signal \(status)" : "exit \(status)"
    }
}

/// One process started by a test (a `circuitry-worker`, or the demo), with its standard output and error in files.
///
/// `@unchecked Sendable`: `process` is configured and started in `init` and afterwards only read (its pid); the exit
/// state and the waiters are behind a `Mutex`.
final class WorkerProcess: @unchecked Sendable, CustomStringConvertible {
    private struct State {
        var exit: WorkerExit?
        var waiters: [CheckedContinuation<WorkerExit, Never>] = []
        var timedOut = false
    }

    let name: String
    let outputURL: URL
    let errorURL: URL
    private let process = Process()
    private let box = StateBox()

    private final class StateBox: Sendable {
        let state = Mutex(State())
    }

    /// Starts `binary` with `arguments`, and `environment` added to this process's environment.
    init(binary: URL, arguments: [String], name: String, folder: URL, environment: [String: String] = [:]) throws {
        self.name = name
        outputURL = folder.appendingPathComponent("\(name).out")
        errorURL = folder.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        // The child gets its own copies of these descriptors; this process closes its own once the child runs (below).
        // Left open, every worker of a long test run kept two descriptors (Process keeps its handles), and with about
        // 1,350 of them open Foundation's Process.run() crashed the test process (a bad pointer in memcpy).
        let output = try FileHandle(forWritingTo: outputURL)
        let error = try FileHandle(forWritingTo: errorURL)
        defer {
            try? output.close()
            try? error.close()
        }
        process.standardOutput = output
        process.standardError = error
        process.terminationHandler = { [box] process in
            let signaled = process.terminationReason == .uncaughtSignal
            let waiters = box.state.withLock { state in
                state.exit = WorkerExit(status: process.terminationStatus, signaled: signaled, timedOut: state.timedOut)
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: box.state.withLock { $0.exit! }) }
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    var isRunning: Bool { box.state.withLock { $0.exit == nil } }

    /// Sends `signal` (default SIGKILL) if the process is still running.
    func kill(_ signal: Int32 = SIGKILL) {
        guard isRunning else { return }
        sendSignal(pid, signal)
    }

    /// Waits for the process to end; after `timeout` it is SIGKILLed and reported as timed out.
    func wait(timeout: Duration) async -> WorkerExit {
        let killer = Task { [self] in
            try await Task.sleep(for: timeout)
            box.state.withLock { $0.timedOut = true }
            kill()
        }
        defer { killer.cancel() }
        return await withCheckedContinuation { continuation in
            let exit = box.state.withLock { state -> WorkerExit? in
                if let exit = state.exit { return exit }
                state.waiters.append(continuation)
                return nil
            }
            if let exit { continuation.resume(returning: exit) }
        }
    }

    /// Blocks until the process has ended (for clean-up after SIGKILL, which ends it at once).
    func waitUntilExit() { process.waitUntilExit() }

    /// Everything the process printed on standard output so far.
    var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }

    /// Everything the process printed on standard error so far.
    var errors: String { (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "" }

    /// The first complete line of standard output, waiting for it for at most `timeout`.
    func firstLine(timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = output
            if let end = text.firstIndex(of: "\n") { return String(text[..<end]) }
            guard isRunning else { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw LabError("\(name) printed no line within \(timeout) (\(description))")
    }

    var description: String {
        "\(name) pid \(pid): \(box.state.withLock { $0.exit }?.description ?? "running"); stderr: \(errors.suffix(600))"
    }
}

private func sendSignal(_ pid: Int32, _ signal: Int32) {
    _ = kill(pid, signal)
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
