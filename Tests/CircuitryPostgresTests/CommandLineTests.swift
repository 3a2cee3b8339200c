#if Postgres

import Circuitry
import CircuitryCLITestSupport
import CircuitryPostgresTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fresh database on the shared test server, and a harness whose `--db` is its URL.
///
/// The URL carries a password that the server (trust authentication on loopback) never asks for: every message must
/// show the URL without it.
private struct CommandLineDatabase {
    static let password = "pw-never-shown"

    let server: TestPostgresServer
    let name: String
    let cli: CLIHarness

    init(on server: TestPostgresServer? = nil) async throws {
        if let server {
            self.server = server
        } else {
            self.server = try await TestPostgresServer.shared()
        }
        name = RunningStores.freshSchema()
        try await self.server.psql("CREATE DATABASE \(name)")
        cli = try CLIHarness(database: "postgres://postgres:\(Self.password)@127.0.0.1:\(self.server.port)/\(name)")
    }

    /// The URL as messages show it: without the password, with the port.
    var shownURL: String { "postgres://postgres@127.0.0.1:\(server.port)/\(name)" }

    /// Runs SQL in this database, bypassing the command: to check what it wrote, or to age a row.
    @discardableResult
    func psql(_ sql: String) async throws -> String { try await server.psql(sql, database: name) }

    /// Runs `circuitry`, and checks that nothing it printed contains the password.
    func run(
        _ arguments: [String], environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIHarness.Outcome {
        let result = try await cli.run(
            arguments, environment: environment, timeout: .seconds(20), sourceLocation: sourceLocation)
        expectNoPassword(result, sourceLocation: sourceLocation)
        return result
    }

    /// `show NAME --json`, decoded.
    func circuit(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let shown = try await run(["show", name, "--json"] + cli.db, sourceLocation: sourceLocation)
        #expect(shown.status == 0, "\(shown)", sourceLocation: sourceLocation)
        return try jsonObject(shown.stdout)
    }
}

private func expectNoPassword(_ result: CLIHarness.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(
        !result.stdout.contains(CommandLineDatabase.password) && !result.stderr.contains(CommandLineDatabase.password),
        "\(result)", sourceLocation: sourceLocation)
}

/// The `circuitry` command with `--db postgres://…` (and `CIRCUITRY_DB`), as subprocesses of the built binary
/// against a real PostgreSQL 15 server.
@Suite struct CommandLinePostgresTests {
    @Test func runCountsOutcomesAndExitsWith75OnceTheCircuitIsOpen() async throws {
        let db = try await CommandLineDatabase()
        let run =
            ["run", "--circuit", "upstream", "--failure-threshold", "2", "--open-for", "10m"] + db.cli.db + ["--"]

        let succeeded = try await db.run(run + ["sh", "-c", "echo hello"])
        #expect(succeeded.status == 0, "\(succeeded)")
        #expect(succeeded.stdout == "hello\n")
        #expect(
            try await db.psql("SELECT successes || '/' || failures FROM circuit_status WHERE name = 'upstream'")
                == "1/0")

        let failed = try await db.run(run + ["sh", "-c", "exit 3"])
        #expect(failed.status == 3, "the command's own status: \(failed)")
        var circuit = try await db.circuit("upstream")
        #expect(circuit["state"] as? String == "closed")
        #expect(circuit["failures"] as? Int == 1)
        #expect(circuit["consecutive_failures"] as? Int == 1)

        #expect(try await db.run(run + ["false"]).status == 1)
        #expect(try await db.psql("SELECT state FROM circuit_status WHERE name = 'upstream'") == "open")

        let marker = db.cli.path("ran")
        let rejected = try await db.run(run + ["sh", "-c", "echo ran > '\(marker)'"])
        #expect(rejected.status == 75, "\(rejected)")
        #expect(rejected.stdout == "")
        let line = try #require(rejected.stderr.split(separator: "\n").first.map(String.init))
        #expect(
            line.wholeMatch(of: #/circuitry: circuit "upstream" is open; retry after (.+)/#)?.1.wholeMatch(
                of: isoInstant) != nil, "\(rejected)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command was not started")
        circuit = try await db.circuit("upstream")
        let trips = circuit["history"] as? [[String: Any]]
        #expect(trips?.count == 1 && trips?.first?["generation"] as? Int == circuit["generation"] as? Int)
        #expect(circuit["retry_after"] as? String == circuit["expires_at"] as? String)
    }

    @Test func tripIsSeenAtOnceByASeparateRun() async throws {
        let db = try await CommandLineDatabase()
        let marker = db.cli.path("ran")
        let run = ["run", "--circuit", "c"] + db.cli.db + ["--", "sh", "-c", "echo x >> '\(marker)'"]
        #expect(try await db.run(run).status == 0)
        #expect(FileManager.default.fileExists(atPath: marker))
        try FileManager.default.removeItem(atPath: marker)

        let tripped = try await db.run(["trip", "c", "--reason", "maintenance", "--for", "10m"] + db.cli.db)
        #expect(tripped.status == 0, "\(tripped)")
        #expect(tripped.stdout.hasPrefix("c: forced open until "))
        #expect(try await db.psql("SELECT override FROM circuit_status WHERE name = 'c'") == "forced-open")

        let rejected = try await db.run(run)
        #expect(rejected.status == 75, "\(rejected)")
        #expect(rejected.stderr.contains("was forced open (maintenance); retry after "), "\(rejected)")
        #expect(rejected.stderr.contains(isoInstant))
        #expect(!FileManager.default.fileExists(atPath: marker), "the command was not started")
    }

    /// `trip --for` counts on the server's clock. Here the server's clock runs 10 minutes ahead of circuitry's (a
    /// server of its own, under libfaketime): with circuitry's clock, a 5-minute trip would end 5 minutes in the
    /// server's past, and the next run would execute its command. (libfaketime cannot be loaded into circuitry
    /// itself: the Swift runtime then loses the command's arguments.)
    @Test func tripForIsCountedOnTheServersClockNotOnThisHosts() async throws {
        let library = try #require(
            Self.fakeTimeLibrary, "libfaketime is not installed (apt-get install libfaketime; .ci/run installs it)")
        let ahead = try await TestPostgresServer.make(
            environment: ["LD_PRELOAD": library, "FAKETIME": "+10m", "FAKETIME_DONT_FAKE_MONOTONIC": "1"])
        defer { ahead.abandon() }
        let serverNow = try #require(Int64(try await ahead.psql("SELECT \(Self.serverMilliseconds)")))
        #expect(serverNow - Timestamp(Date()).millisecondsSince1970 > 590_000, "the server runs 10 minutes ahead")
        let db = try await CommandLineDatabase(on: ahead)
        #expect(try await db.run(["init"] + db.cli.db).status == 0)

        let tripped = try await db.run(["trip", "late", "--for", "5m", "--create"] + db.cli.db)
        #expect(tripped.status == 0, "\(tripped)")
        // Both in the server's milliseconds: the end, and the time of the transition the trip committed.
        let until = try await db.psql("SELECT override_until FROM circuits WHERE name = 'late'")
        let at = try await db.psql("SELECT at FROM transitions WHERE circuit = 'late'")
        #expect(Int64(until).map { $0 - (Int64(at) ?? 0) } == 300_000, "until \(until), tripped at \(at)")
        let shown = try #require(try await db.circuit("late")["override_until"] as? String)
        #expect(tripped.stdout == "late: forced open until \(shown) (for 5m)\n", "\(tripped)")

        let marker = db.cli.path("ran")
        let rejected = try await db.run(["run", "--circuit", "late"] + db.cli.db + ["--", "touch", marker])
        #expect(rejected.status == 75, "\(rejected)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command was not started")
    }

    /// The server's clock in milliseconds, as the store reads it.
    static let serverMilliseconds = "floor(extract(epoch FROM clock_timestamp()) * 1000)::int8"

    /// Debian's libfaketime, which shifts the wall clock of the process it is loaded into.
    static let fakeTimeLibrary: String? = ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .map { "/usr/lib/\($0)/faketime/libfaketime.so.1" }
        .first { FileManager.default.fileExists(atPath: $0) }

    @Test func listShowAndHistory() async throws {
        let db = try await CommandLineDatabase()
        #expect(try await db.run(["run", "--circuit", "ok"] + db.cli.db + ["--", "true"]).status == 0)
        for _ in 0..<2 {
            let failed = try await db.run(
                ["run", "--circuit", "svc", "--failure-threshold", "2"] + db.cli.db + ["--", "false"])
            #expect(failed.status == 1, "\(failed)")
        }

        let table = try await db.run(["list"] + db.cli.db)
        #expect(table.status == 0, "\(table)")
        let rows = table.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.count == 3)
        #expect(rows.dropFirst().map { Array($0.prefix(2)) } == [["ok", "closed"], ["svc", "open"]])

        let json = try await db.run(["list", "--json"] + db.cli.db)
        #expect(json.status == 0, "\(json)")
        let circuits = try jsonLines(json.stdout)
        #expect(circuits.map { $0["name"] as? String } == ["ok", "svc"])
        #expect(circuits.map { $0["state"] as? String } == ["closed", "open"])
        #expect(circuits.first?["successes"] as? Int == 1)

        let shown = try await db.run(["show", "svc", "--json"] + db.cli.db)
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.stdout.split(separator: "\n").count == 1)
        let svc = try jsonObject(shown.stdout)
        #expect(svc["name"] as? String == "svc")
        let history = try #require(svc["history"] as? [[String: Any]])
        #expect(history.first?["generation"] as? Int == svc["generation"] as? Int, "the trip started the generation")
        #expect(history.count == 1)
        #expect(history.first?["from_state"] as? String == "closed")
        #expect(history.first?["to_state"] as? String == "open")
        #expect(history.first?["reason"] as? String == "2 consecutive failures")
        #expect((history.first?["actor"] as? String)?.hasPrefix("circuitry pid ") == true)

        let text = try await db.run(["history"] + db.cli.db)
        #expect(text.status == 0, "\(text)")
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(text)")
        let generation = svc["generation"] as? Int ?? 0
        #expect(
            lines.first?.contains("  svc  closed -> open  gen \(generation)  2 consecutive failures  (circuitry pid ")
                == true)
        let entries = try jsonLines(try await db.run(["history", "svc", "--json"] + db.cli.db).stdout)
        #expect(entries.map { $0["circuit"] as? String } == ["svc"])

        let unknown = try await db.run(["show", "unknown"] + db.cli.db)
        #expect(unknown.status == 66, "\(unknown)")
        #expect(unknown.stderr == "circuitry: no circuit \"unknown\" in \(db.shownURL)\n")
    }

    @Test func closeResetForgetAndPrune() async throws {
        let db = try await CommandLineDatabase()
        let failing = ["run", "--circuit", "c", "--failure-threshold", "1"] + db.cli.db + ["--", "false"]
        #expect(try await db.run(["init"] + db.cli.db).status == 0)
        let closed = try await db.run(["close", "c", "--reason", "known issue", "--create"] + db.cli.db)
        #expect(closed.status == 0, "\(closed)")
        #expect(closed.stdout == "c: forced closed until it is reset\n")
        for _ in 0..<2 { #expect(try await db.run(failing).status == 1) }
        var circuit = try await db.circuit("c")
        #expect(circuit["state"] as? String == "closed", "forced closed: it never trips")
        #expect(circuit["override"] as? String == "forced-closed")
        #expect(circuit["failures"] as? Int == 2)

        let reset = try await db.run(["reset", "c"] + db.cli.db)
        #expect(reset.status == 0, "\(reset)")
        #expect(reset.stdout == "c: reset (closed, no override)\n")
        circuit = try await db.circuit("c")
        #expect(circuit["override"] is NSNull)
        #expect(circuit["failures"] as? Int == 0)
        #expect(try await db.run(failing).status == 1)
        #expect(
            try await db.psql("SELECT state FROM circuit_status WHERE name = 'c'") == "open", "no longer held closed")

        let forgotten = try await db.run(["forget", "c"] + db.cli.db)
        #expect(forgotten.status == 0, "\(forgotten)")
        #expect(forgotten.stdout == "c: forgotten\n")
        #expect(try await db.psql("SELECT count(*) FROM circuits WHERE name = 'c'") == "0")
        let again = try await db.run(["forget", "c"] + db.cli.db)
        #expect(again.status == 66, "\(again)")
        #expect(
            again.stderr
                == "circuitry: no circuit \"c\" in \(db.shownURL) (its history is kept: it was forgotten or pruned)\n")

        for name in ["old", "fresh"] {
            #expect(try await db.run(["reset", name, "--create"] + db.cli.db).status == 0)
        }
        #expect(try await db.run(["trip", "held", "--create"] + db.cli.db).status == 0)
        // Two hours ago, as the server's clock goes: idle, but `held` is forced open and stays.
        try await db.psql("UPDATE circuits SET updated_at = updated_at - 7200000 WHERE name IN ('old', 'held')")
        let pruned = try await db.run(["prune", "--idle", "1h"] + db.cli.db)
        #expect(pruned.status == 0, "\(pruned)")
        #expect(pruned.stdout == "old\n")
        #expect(pruned.stderr == "circuitry: pruned 1 circuit(s) idle for 1h\n")
        let left = try jsonLines(try await db.run(["list", "--json"] + db.cli.db).stdout)
        #expect(left.map { $0["name"] as? String } == ["fresh", "held"])
    }

    /// A database without Circuitry's tables: the subcommands that only read or operate circuits refuse it and create
    /// nothing (a mistyped schema must not become an empty set of tables); `init` creates them; a mistyped circuit is
    /// refused as on SQLite.
    @Test func onlyInitAndRunCreateTablesAndATypoCreatesNoCircuit() async throws {
        let db = try await CommandLineDatabase()
        let tables =
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        for arguments in [
            ["list"], ["show", "x"], ["history"], ["trip", "x", "--create"], ["prune", "--idle", "1h"],
        ] {
            let result = try await db.run(arguments + db.cli.db)
            expectStorageError(result, location: db.shownURL, cause: "no Circuitry tables")
            #expect(result.stderr.contains("(missing)"), "\(arguments): \(result)")
        }
        let typo = db.cli.database.replacingOccurrences(of: "/\(db.name)", with: "/\(db.name)?schema=circuitz")
        expectStorageError(try await db.run(["list", "--db", typo]), location: "schema=circuitz", cause: "missing")
        #expect(try await db.psql(tables) == "0", "nothing was created")
        #expect(try await db.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'circuitz'") == "0")

        let initialized = try await db.run(["init"] + db.cli.db)
        #expect(initialized.status == 0, "\(initialized)")
        #expect(initialized.stdout == "\(db.shownURL): Circuitry's tables are ready, with 0 circuit(s)\n")
        let listed = try await db.run(["list"] + db.cli.db)
        #expect(listed.status == 0 && listed.stdout == "", "\(listed)")

        #expect(try await db.run(["run", "--circuit", "upstream"] + db.cli.db + ["--", "true"]).status == 0)
        let refused = try await db.run(["trip", "upstrem", "--for", "10m"] + db.cli.db)
        #expect(refused.status == 66, "\(refused)")
        #expect(
            refused.stderr
                == "circuitry: no circuit \"upstrem\" in \(db.shownURL); did you mean \"upstream\"? "
                + "To create it, add --create.\n")
        #expect(try await db.psql("SELECT count(*) FROM circuits") == "1", "nothing was written")
        #expect(try await db.psql("SELECT count(*) FROM transitions") == "0")
    }

    @Test func databaseComesFromTheEnvironmentWhenDbIsNotGiven() async throws {
        let db = try await CommandLineDatabase()
        let environment = ["CIRCUITRY_DB": db.cli.database]
        #expect(try await db.run(["init"], environment: environment).status == 0)
        let tripped = try await db.run(
            ["trip", "env", "--reason", "from the environment", "--create"], environment: environment)
        #expect(tripped.status == 0, "\(tripped)")
        #expect(
            try await db.psql("SELECT override_reason FROM circuit_status WHERE name = 'env'") == "from the environment"
        )
        let listed = try await db.run(["list", "--json"], environment: environment)
        #expect(try jsonLines(listed.stdout).map { $0["name"] as? String } == ["env"])
        let rejected = try await db.run(["run", "--circuit", "env", "--", "true"], environment: environment)
        #expect(rejected.status == 75, "\(rejected)")

        // A malformed URL in the environment is a usage error that says where it came from.
        let malformed = try await db.run(
            ["list"], environment: ["CIRCUITRY_DB": "postgres://u:\(CommandLineDatabase.password)@h:port/db"])
        expectUsageError(malformed, saying: "CIRCUITRY_DB: expected postgres://")
    }

    @Test(arguments: [
        ("postgres://u:\(CommandLineDatabase.password)@127.0.0.1:port/db", "--db: expected postgres://"),
        ("postgresql://u:\(CommandLineDatabase.password)@/db", "--db: the URL names no host"),
        ("postgres://:\(CommandLineDatabase.password)@127.0.0.1/db", "--db: the URL names no user"),
        ("postgres://u:\(CommandLineDatabase.password)@127.0.0.1:99999/db", "--db: port is 99999"),
        ("postgres://u:\(CommandLineDatabase.password)@127.0.0.1/db?sslmode=sometimes", "--db: sslmode is sometimes"),
        ("postgres://u:\(CommandLineDatabase.password)@127.0.0.1/db?sslmod=require", "unknown connection parameter"),
    ])
    func malformedURLIsAUsageError(url: String, message: String) async throws {
        let cli = try CLIHarness()
        let marker = cli.path("ran")
        for arguments in everySubcommand(db: url, marker: marker) {
            let result = try await cli.run(arguments)
            expectUsageError(result, saying: message)
            expectNoPassword(result)
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "the command is not run")
    }

    @Test func unreachableServerIsAStorageErrorNamingTheURLAndTheCause() async throws {
        let cli = try CLIHarness()
        let marker = cli.path("ran")
        // Bound a moment ago and released: nothing listens there, and connecting is refused at once.
        let port = try TestPostgresServer.freePort()
        // A connect timeout far longer than the command takes, even on a loaded machine (where its start-up alone can
        // take seconds): a refused connection must end it at once, not after the timeout.
        let url = "postgres://u:\(CommandLineDatabase.password)@127.0.0.1:\(port)/db?connect_timeout=60"
        for arguments in everySubcommand(db: url, marker: marker) {
            let started = ContinuousClock.now
            let result = try await cli.run(arguments, timeout: .seconds(90))
            expectStorageError(result, location: "postgres://u@127.0.0.1:\(port)/db", cause: "Connection refused")
            #expect(result.stderr.contains("(cannot open)"), "\(result)")
            expectNoPassword(result)
            #expect(
                ContinuousClock.now - started < .seconds(30), "at once, not after the connect timeout: \(arguments)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "the command is not run")
    }

    @Test func aServerThatNeverAnswersIsGivenUpAfterTheConnectTimeout() async throws {
        let cli = try CLIHarness()
        let marker = cli.path("ran")
        // A port that accepts connections (the kernel completes them) but never answers the start-up message.
        let (socket, port) = try TestPostgresServer.boundLoopbackSocket()
        defer { close(socket) }
        try #require(listen(socket, 16) == 0)
        let url = "postgres://u:\(CommandLineDatabase.password)@127.0.0.1:\(port)/db?connect_timeout=1"
        // What the command takes when the connection is refused at once: its own start-up and exit, which on a loaded
        // machine can take seconds. The 1 s timeout is measured on top of it, and must be told from the default 5 s.
        let refused = "postgres://u@127.0.0.1:\(try TestPostgresServer.freePort())/db"
        for arguments in [
            ["list", "--db", url], ["run", "--circuit", "x", "--db", url, "--", "sh", "-c", "echo ran > '\(marker)'"],
        ] {
            var started = ContinuousClock.now
            _ = try await cli.run(arguments.map { $0 == url ? refused : $0 }, timeout: .seconds(60))
            let baseline = ContinuousClock.now - started
            started = ContinuousClock.now
            let result = try await cli.run(arguments, timeout: .seconds(60))
            let elapsed = ContinuousClock.now - started
            expectStorageError(result, location: "postgres://u@127.0.0.1:\(port)/db", cause: "Connect timeout (1 s)")
            expectNoPassword(result)
            #expect(elapsed >= .seconds(1), "\(elapsed)")
            #expect(elapsed < baseline + .seconds(3), "\(elapsed), of which start-up and exit about \(baseline)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "the command is not run")
    }

    @Test func unknownDatabaseIsAStorageErrorWithTheServersMessage() async throws {
        let server = try await TestPostgresServer.shared()
        let cli = try CLIHarness()
        let url = "postgres://postgres:\(CommandLineDatabase.password)@127.0.0.1:\(server.port)/no_such_database"
        let result = try await cli.run(["list", "--db", url])
        expectStorageError(
            result, location: "postgres://postgres@127.0.0.1:\(server.port)/no_such_database",
            cause: "database \"no_such_database\" does not exist")
        expectNoPassword(result)
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func historyFollowPrintsNewTransitionsUntilASignal(signal: Int32) async throws {
        let db = try await CommandLineDatabase()
        #expect(try await db.run(["init"] + db.cli.db).status == 0)
        #expect(try await db.run(["trip", "first", "--create"] + db.cli.db).status == 0)
        let follower = try db.cli.launch(["history", "--follow", "--json"] + db.cli.db)
        let sawFirst = await db.cli.eventually { follower.stdoutSoFar.split(separator: "\n").count == 1 }
        #expect(sawFirst, "\(follower.stdoutSoFar)")
        #expect(try await db.run(["trip", "second", "--reason", "later", "--create"] + db.cli.db).status == 0)
        let sawSecond = await db.cli.eventually { follower.stdoutSoFar.split(separator: "\n").count == 2 }
        #expect(sawSecond, "\(follower.stdoutSoFar)")

        kill(follower.pid, signal)
        let started = ContinuousClock.now
        let result = try await follower.wait(timeout: .seconds(10))
        #expect(result.status == 0, "\(result)")
        #expect(ContinuousClock.now - started < .seconds(3), "the pool is shut down at once")
        let entries = try jsonLines(result.stdout)
        #expect(entries.map { $0["circuit"] as? String } == ["first", "second"])
        #expect(entries.last?["reason"] as? String == "forced open: later")
        expectNoPassword(result)
    }
}

#endif
