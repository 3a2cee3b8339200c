#if Redis

import CircuitryCLITestSupport
import CircuitryRedisTestSupport
import Foundation
import Testing

/// The `circuitry` command with `--db redis://…`, as subprocesses of the built binary against a real redis-server
/// that asks for a password: every message must show the URL without it.
@Suite struct CommandLineRedisTests {
    static let password = "pw-never-shown"

    @Test func runTripListAndHistoryWithoutEverShowingThePassword() async throws {
        let server = try await TestRedisServer.start(extraArguments: ["--requirepass", Self.password])
        defer { server.stop(crash: true) }
        let cli = try CLIHarness(
            database: server.url(parameters: "prefix=cli", credentials: ":\(Self.password)"))
        func run(_ arguments: [String]) async throws -> CLIHarness.Outcome {
            let result = try await cli.run(arguments, timeout: .seconds(20))
            #expect(!result.stdout.contains(Self.password) && !result.stderr.contains(Self.password), "\(result)")
            return result
        }
        let call = ["run", "--circuit", "upstream", "--failure-threshold", "2", "--open-for", "10m"] + cli.db + ["--"]
        #expect(try await run(call + ["sh", "-c", "echo hello"]).stdout == "hello\n")
        #expect(try await run(call + ["false"]).status == 1)
        #expect(try await run(call + ["false"]).status == 1)
        let marker = cli.path("ran")
        let rejected = try await run(call + ["sh", "-c", "echo ran > '\(marker)'"])
        #expect(rejected.status == 75, "\(rejected)")
        #expect(rejected.stderr.hasPrefix("circuitry: circuit \"upstream\" is open; retry after "), "\(rejected)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command was not started")
        #expect(try server.cli(["HGET", "{cli}:circuit:upstream", "state"], password: Self.password) == "open")

        let listed = try await run(["list", "--json"] + cli.db)
        #expect(try jsonLines(listed.stdout).map { $0["name"] as? String } == ["upstream"])
        let history = try await run(["history", "upstream", "--json"] + cli.db)
        #expect(try jsonLines(history.stdout).map { $0["to_state"] as? String } == ["open"], "\(history)")
        #expect(try await run(["reset", "upstream"] + cli.db).status == 0)
        #expect(try server.cli(["HGET", "{cli}:circuit:upstream", "state"], password: Self.password) == "closed")
    }

    /// A prefix without Circuitry's keys: the subcommands that only read or operate circuits refuse it and write
    /// nothing (a mistyped prefix must not become an empty set of circuits); `init` marks it as Circuitry's.
    @Test func onlyInitAndRunMarkAPrefixAndATypoWritesNothing() async throws {
        let server = try await TestRedisServer.start()
        defer { server.stop(crash: true) }
        let cli = try CLIHarness(database: server.url(parameters: "prefix=fresh"))
        for arguments in [
            ["list"], ["show", "x"], ["history"], ["trip", "x", "--create"], ["prune", "--idle", "1h"],
        ] {
            let result = try await cli.run(arguments + cli.db, timeout: .seconds(20))
            expectStorageError(result, location: "prefix=fresh", cause: "no Circuitry keys")
            #expect(result.stderr.contains("(missing)"), "\(arguments): \(result)")
        }
        #expect(try server.cli(["DBSIZE"]) == "0", "nothing was written")
        let initialized = try await cli.run(["init"] + cli.db, timeout: .seconds(20))
        #expect(initialized.status == 0, "\(initialized)")
        #expect(try server.cli(["HGET", "{fresh}:meta", "version"]) == "1")
        let listed = try await cli.run(["list"] + cli.db, timeout: .seconds(20))
        #expect(listed.status == 0 && listed.stdout == "", "\(listed)")
    }

    @Test func aServerThatCannotBeUsedIsExitStatus74NamingTheURL() async throws {
        let server = try await TestRedisServer.start(extraArguments: ["--requirepass", Self.password])
        defer { server.stop(crash: true) }
        let wrong = try CLIHarness(database: server.url(credentials: ":not-\(Self.password)"))
        let refused = try await wrong.run(["list"] + wrong.db, timeout: .seconds(20))
        #expect(refused.status == 74, "\(refused)")
        #expect(refused.stderr.contains("WRONGPASS") && refused.stderr.contains("redis://127.0.0.1:\(server.port)/0"))
        #expect(!refused.stderr.contains(Self.password), "\(refused)")

        let port = try TestRedisServer.freePort()
        let nobody = try CLIHarness(database: "redis://:\(Self.password)@127.0.0.1:\(port)/0")
        let unreachable = try await nobody.run(["list"] + nobody.db, timeout: .seconds(20))
        #expect(unreachable.status == 74, "\(unreachable)")
        #expect(unreachable.stderr.contains("Connection refused"), "\(unreachable)")
        #expect(!unreachable.stderr.contains(Self.password), "\(unreachable)")

        let malformed = try await nobody.run(
            ["list", "--db", "redis://:\(Self.password)@h:port/0"], timeout: .seconds(20))
        #expect(malformed.status == 64, "\(malformed)")
        #expect(!malformed.stderr.contains(Self.password), "\(malformed)")
    }
}

#endif
