import Circuitry
import Foundation
import Logging

/// Where the demo's worker processes share their breakers: a SQLite file (`circuitry-demo`) or a PostgreSQL server
/// (`circuitry-demo-postgres`). The demo itself (queue, workers, output) is the same for both.
package protocol DemoBackend {
    /// The demo executable's name.
    static var commandName: String { get }
    /// The shared store, for the help text (`one SQLite file`).
    static var summary: String { get }
    /// Where the breakers of a run in `folder` (a fresh folder the demo owns) are: what the workers get as
    /// `--breakers`.
    static func location(in folder: URL) throws -> String
    /// The store's type and where it is, for the demo's output (never a password).
    static func describe(_ location: String) throws -> String
    /// Runs `body` with the store at `location` open.
    static func withStore<Value: Sendable>(
        _ location: String, logger: Logger, _ body: (any CircuitStore) async throws -> Value
    ) async throws -> Value
    /// The commands an operator types to see the circuits: what to print, and what to run.
    static func operatorCommands(_ location: String) throws -> [OperatorCommand]
}

/// A shell command that shows the circuits, printed as `shown` and run as `executable` with `arguments`.
package struct OperatorCommand {
    package var shown: String
    package var executable: String
    package var arguments: [String]
    package var environment: [String: String]
    /// Printed instead of the output when `executable` cannot be started.
    package var whenMissing: String

    package init(
        shown: String, executable: String, arguments: [String], environment: [String: String] = [:],
        whenMissing: String
    ) {
        self.shown = shown
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.whenMissing = whenMissing
    }

    /// Prints the command and its real output.
    func show() {
        DemoOutput.say("$ \(shown)")
        guard let path = Self.find(executable) else { return DemoOutput.say(whenMissing) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            DemoOutput.say(String(decoding: data, as: UTF8.self), newline: false)
        } catch {
            DemoOutput.say("(\(executable) did not start: \(error))")
        }
    }

    /// `name` if it is a path, else the first executable of that name in `PATH`.
    private static func find(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// The two queries the demo ends with, on the `circuit_status` and `transition_log` views that both stores create.
package enum OperatorQueries {
    package static func all(circuitStatus: String, transitionLog: String) -> [String] {
        [
            "select name, state, generation, failures, expires_at, updated_at from \(circuitStatus)",
            "select at, circuit, from_state, to_state, reason, actor from \(transitionLog)",
        ]
    }
}
