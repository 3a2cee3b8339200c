import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the built `circuitry` binary as a subprocess, with a fresh temporary folder for its output and files.
///
/// Shared by the command's own tests (on SQLite files) and the PostgreSQL store's tests (on a server's URL), which
/// is why it is a target of its own, with `package` access.
///
/// Standard output and error go to files in the folder, not pipes, so that a test never blocks on a full pipe or on
/// a grandchild holding one open. Every wait is bounded.
package final class CLIHarness {
    /// The temporary folder of this test; removed when the harness is released.
    package let folder: URL
    /// `<folder>/breakers.sqlite`: the database ``db`` names unless the harness was given another one.
    package let databasePath: String
    /// What ``db`` passes: ``databasePath``, or the path or URL given to `init(database:)`.
    package let database: String
    private var launches = 0

    /// A harness whose ``db`` is `database` (a path or a URL), or a SQLite file in the test's folder.
    package init(database: String? = nil) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("circuitry-cli-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        databasePath = folder.appendingPathComponent("breakers.sqlite").path
        self.database = database ?? databasePath
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// `--db <database>`.
    package var db: [String] { ["--db", database] }

    /// A path in the test's folder.
    package func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// The built executable: next to the test bundle in the build products folder.
    package static let binary: URL = {
        let fileManager = FileManager.default
        var folders: [URL] = []
        if let override = ProcessInfo.processInfo.environment["CIRCUITRY_BINARY"] {
            return URL(fileURLWithPath: override)
        }
        // Linux: the test runner is `.build/<triple>/debug/CircuitryPackageTests.xctest` itself.
        folders.append(
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        // macOS: `xctest` loads `CircuitryPackageTests.xctest` from the products folder.
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
        }
        folders.append(Bundle.main.bundleURL)
        // Last resort: the default debug products folder of this package.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        folders.append(package.appendingPathComponent(".build/debug"))
        for folder in folders {
            let candidate = folder.appendingPathComponent("circuitry")
            if fileManager.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return folders[0].appendingPathComponent("circuitry")
    }()

    /// How a finished `circuitry` ended.
    package struct Outcome: CustomStringConvertible {
        /// The exit status, or 128 + N if signal N killed it.
        package var status: Int32
        package var stdout: String
        package var stderr: String

        package var description: String {
            "status \(status), stdout \(stdout.debugDescription), stderr \(stderr.debugDescription)"
        }
    }

    /// A started `circuitry` process.
    package final class Launched {
        package let process: Process
        package let stdoutPath: String
        package let stderrPath: String

        init(process: Process, stdoutPath: String, stderrPath: String) {
            self.process = process
            self.stdoutPath = stdoutPath
            self.stderrPath = stderrPath
        }

        package var pid: pid_t { process.processIdentifier }

        /// What it has written to standard output so far.
        package var stdoutSoFar: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

        /// Waits for it to end, for at most `timeout`; kills it and fails the test if it does not.
        package func wait(timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation)
            async throws
            -> Outcome
        {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                Issue.record("circuitry did not end within \(timeout)", sourceLocation: sourceLocation)
            }
            process.waitUntilExit()
            let status =
                process.terminationReason == .uncaughtSignal
                ? 128 + process.terminationStatus : process.terminationStatus
            return Outcome(
                status: status, stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
        }
    }

    /// Starts `circuitry <arguments>` with `CIRCUITRY_DB` unset unless `environment` sets it.
    package func launch(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws
        -> Launched
    {
        try launchProcess(Self.binary.path, arguments, environment: environment, stdin: stdin)
    }

    /// Starts `executable <arguments>` with `CIRCUITRY_DB` unset unless `environment` sets it.
    package func launchProcess(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil
    ) throws -> Launched {
        launches += 1
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var base = ProcessInfo.processInfo.environment
        base["CIRCUITRY_DB"] = nil
        process.environment = base.merging(environment) { _, new in new }
        let stdoutPath = path("stdout-\(launches)")
        let stderrPath = path("stderr-\(launches)")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        if let stdin {
            let stdinPath = path("stdin-\(launches)")
            _ = FileManager.default.createFile(atPath: stdinPath, contents: Data(stdin.utf8))
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        return Launched(process: process, stdoutPath: stdoutPath, stderrPath: stderrPath)
    }

    /// Runs `circuitry <arguments>` to the end (at most `timeout`).
    package func run(
        _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil,
        timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Outcome {
        try await launch(arguments, environment: environment, stdin: stdin).wait(
            timeout: timeout, sourceLocation: sourceLocation)
    }

    /// Copies `Fixtures/<name>` into the test's folder and returns the copy's path.
    package func copyFixture(_ name: String) throws -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name)
        let destination = path(name)
        try FileManager.default.copyItem(atPath: source.path, toPath: destination)
        return destination
    }

    /// `init`, then `reset NAME --create` for each name: a database with these circuits, closed, for a test to start
    /// from (no other subcommand creates a database or, without `--create`, a circuit).
    package func create(_ names: String..., sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let initialized = try await run(["init"] + db, sourceLocation: sourceLocation)
        #expect(initialized.status == 0, "\(initialized)", sourceLocation: sourceLocation)
        for name in names {
            let created = try await run(["reset", name, "--create"] + db, sourceLocation: sourceLocation)
            #expect(created.status == 0, "\(created)", sourceLocation: sourceLocation)
        }
    }

    /// `show NAME --json`, decoded.
    package func circuit(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String:
        Any]
    {
        let shown = try await run(["show", name, "--json"] + db, sourceLocation: sourceLocation)
        #expect(shown.status == 0, "\(shown)", sourceLocation: sourceLocation)
        return try jsonObject(shown.stdout)
    }

    /// Waits, for at most `timeout`, until `condition` holds; returns whether it did.
    package func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows
        -> Bool
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return try await condition()
    }
}

/// Decodes one JSON object.
package func jsonObject(_ text: String) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(value as? [String: Any])
}

/// Decodes JSON Lines: one object per non-empty line.
package func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { try jsonObject(String($0)) }
}

/// An ISO 8601 instant in UTC with milliseconds, as `circuitry` prints them.
package var isoInstant: Regex<Substring> { #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/# }
