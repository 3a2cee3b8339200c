import CircuitryCLITestSupport
import Foundation
import Testing

/// Every bad input: usage errors exit 64 with one line and the usage; storage errors exit 74 with one line that
/// names the path and the cause, and leave the file alone (`expectUsageError` and `expectStorageError` are shared
/// with the PostgreSQL tests of the command).
@Suite struct BadInputTests {
    @Test func fileThatIsNotADatabase() async throws {
        let cli = try CLIHarness()
        let text = "not a database, just text\n".padding(toLength: 4096, withPad: "x", startingAt: 0)
        try text.write(toFile: cli.databasePath, atomically: true, encoding: .utf8)
        for arguments in everySubcommand(db: cli.databasePath, marker: cli.path("ran")) {
            expectStorageError(try await cli.run(arguments), location: cli.databasePath, cause: "not a database")
        }
        #expect(try String(contentsOfFile: cli.databasePath, encoding: .utf8) == text, "the file is left alone")
        #expect(!FileManager.default.fileExists(atPath: cli.path("ran")), "the command is not run")
    }

    @Test func directory() async throws {
        let cli = try CLIHarness()
        for arguments in everySubcommand(db: cli.folder.path, marker: cli.path("ran")) {
            expectStorageError(try await cli.run(arguments), location: cli.folder.path, cause: "is a directory")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.path("ran")))
    }

    /// Makes `path` an SQLite database with these header fields and no tables, with the `sqlite3` shell.
    private func makeDatabase(_ path: String, applicationID: Int, userVersion: Int) throws {
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = [
            "sqlite3", path, "pragma application_id=\(applicationID); pragma user_version=\(userVersion)",
        ]
        try sqlite.run()
        sqlite.waitUntilExit()
        try #require(sqlite.terminationStatus == 0, "needs the sqlite3 shell")
    }

    /// `PRAGMA application_id` of Circuitry's databases: "Circ" in ASCII.
    private static let circuitryApplicationID = 0x4369_7263

    @Test func databaseOfANewerCircuitry() async throws {
        let cli = try CLIHarness()
        try makeDatabase(cli.databasePath, applicationID: Self.circuitryApplicationID, userVersion: 99)
        let before = try Data(contentsOf: URL(fileURLWithPath: cli.databasePath))
        for arguments in everySubcommand(db: cli.databasePath, marker: cli.path("ran")) {
            expectStorageError(try await cli.run(arguments), location: cli.databasePath, cause: "newer schema")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.databasePath)) == before, "the file is left alone")
        #expect(!FileManager.default.fileExists(atPath: cli.path("ran")))
    }

    @Test func databaseOfAnotherApplication() async throws {
        let cli = try CLIHarness()
        // 1131573859 is 0x43726963, "Cric": not Circuitry's "Circ".
        try makeDatabase(cli.databasePath, applicationID: 1_131_573_859, userVersion: 99)
        let before = try Data(contentsOf: URL(fileURLWithPath: cli.databasePath))
        for arguments in everySubcommand(db: cli.databasePath, marker: cli.path("ran")) {
            expectStorageError(
                try await cli.run(arguments), location: cli.databasePath, cause: "not a Circuitry database")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.databasePath)) == before, "the file is left alone")
        #expect(!FileManager.default.fileExists(atPath: cli.path("ran")))
    }

    @Test func busyPastTheBound() async throws {
        let cli = try CLIHarness()
        try await cli.create("x")
        let result = try await cli.whileWriteLocked {
            let started = ContinuousClock.now
            let result = try await cli.run(["trip", "x"] + cli.db)
            #expect(ContinuousClock.now - started < .seconds(20), "the wait is bounded")
            // A read needs no lock.
            #expect(try await cli.run(["show", "x"] + cli.db).status == 0)
            return result
        }
        expectStorageError(result, location: cli.databasePath, cause: "busy")
    }

    @Test(arguments: [
        ("future-schema.sqlite", "newer schema"), ("foreign.sqlite", "not a Circuitry database"),
        ("not-a-database.sqlite", "not a database"), ("truncated.sqlite", "corrupt"),
    ])
    func fixtureIsRefusedAndLeftAlone(fixture: String, cause: String) async throws {
        let cli = try CLIHarness()
        let path = try cli.copyFixture(fixture)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        for arguments in everySubcommand(db: path, marker: cli.path("ran")) {
            expectStorageError(try await cli.run(arguments), location: path, cause: cause)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the file is left alone")
        #expect(!FileManager.default.fileExists(atPath: cli.path("ran")))
    }

    @Test func missingFolder() async throws {
        let cli = try CLIHarness()
        let path = cli.path("no/such/folder/breakers.sqlite")
        for arguments in everySubcommand(db: path, marker: cli.path("ran")) {
            expectStorageError(try await cli.run(arguments), location: path, cause: "cannot open")
        }
        #expect(!FileManager.default.fileExists(atPath: cli.path("no")))
        #expect(!FileManager.default.fileExists(atPath: cli.path("ran")))
    }

    /// Only `run` and `init` create a database: every other subcommand refuses a missing file, and leaves none.
    @Test func missingFileForEverySubcommandButRunAndInit() async throws {
        let cli = try CLIHarness()
        for arguments in everySubcommand(db: cli.databasePath, marker: cli.path("ran"))
        where !["run", "init"].contains(arguments[0]) {
            let result = try await cli.run(arguments)
            expectStorageError(result, location: cli.databasePath, cause: "no database file")
            #expect(result.stderr.contains("circuitry init creates it"), "\(result)")
            let left = try FileManager.default.contentsOfDirectory(atPath: cli.folder.path)
            #expect(!left.contains { $0.hasPrefix("breakers.sqlite") }, "\(arguments) left \(left)")
        }
    }

    @Test(arguments: ["5x", "10", "ms", "-1s", "0s", "1.5ms", "", "99999999999999h", "1m1h", "1M"])
    func badDuration(text: String) async throws {
        let cli = try CLIHarness()
        let forRun = try await cli.run(["run", "--circuit", "x", "--open-for", text] + cli.db + ["--", "true"])
        expectUsageError(forRun, saying: "--open-for")
        let forTrip = try await cli.run(["trip", "x", "--for", text] + cli.db)
        expectUsageError(forTrip, saying: "--for")
        let forTimeout = try await cli.run(["run", "--circuit", "x", "--timeout", text] + cli.db + ["--", "true"])
        expectUsageError(forTimeout, saying: "--timeout")
        #expect(!FileManager.default.fileExists(atPath: cli.databasePath), "nothing was opened")
    }

    @Test func goodDurationsAreAccepted() async throws {
        let cli = try CLIHarness()
        for text in ["250ms", "30s", "5m", "2h"] {
            let result = try await cli.run(["run", "--circuit", "d", "--open-for", text] + cli.db + ["--", "true"])
            #expect(result.status == 0, "\(text): \(result)")
        }
    }

    @Test func emptyOrInvalidCircuitName() async throws {
        let cli = try CLIHarness()
        for name in ["", "tab\there"] {
            let what = name.isEmpty ? "must not be empty" : "control characters"
            expectUsageError(try await cli.run(["run", "--circuit", name] + cli.db + ["--", "true"]), saying: what)
            for command in ["show", "trip", "close", "reset", "forget", "history"] {
                expectUsageError(try await cli.run([command, name] + cli.db), saying: what)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: cli.databasePath))
    }

    @Test func otherUsageErrors() async throws {
        let cli = try CLIHarness()
        expectUsageError(try await cli.run(["list"]), saying: "no database: pass --db PATH or set CIRCUITRY_DB")
        expectUsageError(try await cli.run(["list", "--db", ""]), saying: "--db needs a path")
        expectUsageError(try await cli.run(["run", "--circuit", "x"] + cli.db), saying: "no command to run")
        expectUsageError(try await cli.run(["run"] + cli.db + ["--", "true"]), saying: "--circuit")
        expectUsageError(
            try await cli.run(["run", "--circuit", "x", "--failure-threshold", "0"] + cli.db + ["--", "true"]),
            saying: "--failure-threshold is 0; expected at least 1")
        expectUsageError(
            try await cli.run(["run", "--circuit", "x", "--close-threshold", "101"] + cli.db + ["--", "true"]),
            saying: "--close-threshold is 101")
        expectUsageError(
            try await cli.run(["run", "--circuit", "x", "--ignore-exit", "0"] + cli.db + ["--", "true"]),
            saying: "--ignore-exit")
        expectUsageError(try await cli.run(["show"] + cli.db), saying: "<name>")
        expectUsageError(try await cli.run(["frobnicate"]), saying: "frobnicate")
        expectUsageError(try await cli.run(["list", "--no-such-option"] + cli.db), saying: "--no-such-option")
        #expect(!FileManager.default.fileExists(atPath: cli.databasePath))
    }
}

/// A read-only location, seen by a process that may not write there. Tests run as root here (which may write
/// anywhere), so the command runs as `nobody` through `setpriv`; as any other user, the folder is made read-only.
@Suite struct ReadOnlyLocationTests {
    @Test func aDatabaseThisProcessMayNotWriteIsRefusedAndLeftAlone() async throws {
        let cli = try CLIHarness()
        try await cli.create("x")
        #expect(try await cli.run(["trip", "x", "--reason", "kept"] + cli.db).status == 0)
        let before = FileManager.default.contents(atPath: cli.databasePath)
        let asRoot = geteuid() == 0
        let binary: String
        if asRoot {
            // `nobody` must be able to reach the binary: copy it into the (world-readable) test folder.
            binary = cli.path("circuitry")
            try FileManager.default.copyItem(atPath: CLIHarness.binary.path, toPath: binary)
        } else {
            binary = CLIHarness.binary.path
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: cli.folder.path)
            try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: cli.databasePath)
        }
        defer {
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: cli.folder.path)
            try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: cli.databasePath)
        }
        func runLimited(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
            let process = Process()
            let errors = cli.path("stderr-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            if asRoot {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
                process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", binary] + arguments
            } else {
                process.executableURL = URL(fileURLWithPath: binary)
                process.arguments = arguments
            }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return (process.terminationStatus, (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
        }
        let marker = cli.path("ran")
        for arguments in [
            ["list"] + cli.db, ["trip", "y"] + cli.db,
            ["run", "--circuit", "x"] + cli.db + ["--", "sh", "-c", "echo ran > '\(marker)'"],
        ] {
            let result = try runLimited(arguments)
            #expect(result.status == 74, "\(arguments): \(result)")
            #expect(result.stderr.contains("read-only"), "\(arguments): \(result)")
            #expect(result.stderr.contains(cli.databasePath), "\(arguments): \(result)")
        }
        let fresh = cli.path("new.sqlite")
        let created = try runLimited(["init", "--db", fresh])
        #expect(created.status == 74, "\(created)")
        #expect(created.stderr.contains("is not writable"), "\(created)")
        #expect(!FileManager.default.fileExists(atPath: fresh))
        #expect(!FileManager.default.fileExists(atPath: marker), "the command is not run")
        #expect(FileManager.default.contents(atPath: cli.databasePath) == before, "the database is left alone")
    }
}
