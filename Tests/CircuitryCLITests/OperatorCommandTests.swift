import CircuitryCLITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `list`, `show`, `trip`, `close`, `reset`, `forget` and `history` as subprocesses.
@Suite struct OperatorCommandTests {
    /// Fails `circuit` `times` times through `run`.
    private func fail(_ cli: CLIHarness, _ circuit: String, times: Int, threshold: Int = 5) async throws {
        for _ in 0..<times {
            let result = try await cli.run(
                ["run", "--circuit", circuit, "--failure-threshold", "\(threshold)", "--open-for", "5m"] + cli.db
                    + ["--", "false"])
            #expect(result.status == 1, "\(result)")
        }
    }

    @Test func listPrintsATableAndJSONLines() async throws {
        let cli = try CLIHarness()
        #expect(try await cli.run(["run", "--circuit", "b/ok"] + cli.db + ["--", "true"]).status == 0)
        try await fail(cli, "a/down", times: 2, threshold: 2)
        let table = try await cli.run(["list"] + cli.db)
        #expect(table.status == 0, "\(table)")
        let rows = table.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.count == 3)
        #expect(rows[0] == ["NAME", "STATE", "SINCE", "NEXT", "REQUESTS", "FAILURES", "CONSEC", "WHY"])
        #expect(rows[1].prefix(2) == ["a/down", "open"])
        #expect(rows[2] == ["b/ok", "closed", "-", "-", "1", "0", "0", "-"], "closed since it was created")

        let json = try await cli.run(["list", "--json"] + cli.db)
        #expect(json.status == 0, "\(json)")
        let objects = try jsonLines(json.stdout)
        #expect(objects.map { $0["name"] as? String } == ["a/down", "b/ok"])
        for object in objects { #expect(Set(object.keys) == JSONKeys.circuit) }
        #expect(objects[0]["state"] as? String == "open")
        #expect((objects[0]["expires_at"] as? String)?.wholeMatch(of: isoInstant) != nil)
        #expect(objects[1]["expires_at"] is NSNull)
        #expect(json.stdout.contains("\"a/down\""), "slashes are not escaped")
    }

    @Test func listOfAnEmptyDatabasePrintsNothing() async throws {
        let cli = try CLIHarness()
        #expect(try await cli.run(["init"] + cli.db).status == 0)
        let table = try await cli.run(["list"] + cli.db)
        #expect(table.status == 0)
        #expect(table.stdout == "" && table.stderr == "", "\(table)")
        let json = try await cli.run(["list", "--json"] + cli.db)
        #expect(json.status == 0)
        #expect(json.stdout == "")
    }

    @Test func showPrintsOneCircuitWithItsHistory() async throws {
        let cli = try CLIHarness()
        try await fail(cli, "svc", times: 2, threshold: 2)
        let text = try await cli.run(["show", "svc"] + cli.db)
        #expect(text.status == 0, "\(text)")
        #expect(text.stdout.contains("circuit:         svc"))
        #expect(text.stdout.contains("state:           open"))

        let json = try await cli.run(["show", "svc", "--json"] + cli.db)
        #expect(json.stdout.split(separator: "\n").count == 1)
        let object = try jsonObject(json.stdout)
        #expect(object["name"] as? String == "svc")
        let generation = try #require(object["generation"] as? Int)
        #expect(text.stdout.contains("closed -> open  gen \(generation)  2 consecutive failures"))
        let history = try #require(object["history"] as? [[String: Any]])
        #expect(history.first?["generation"] as? Int == generation, "the trip started the current generation")
        #expect(history.count == 1)
        #expect(history.first?["from_state"] as? String == "closed")
        #expect(history.first?["to_state"] as? String == "open")
        #expect(history.first?["reason"] as? String == "2 consecutive failures")
    }

    @Test func showOfAnUnknownCircuitIsAnError() async throws {
        let cli = try CLIHarness()
        try await cli.create("known")
        for extra in [[], ["--json"]] {
            let result = try await cli.run(["show", "unknown"] + extra + cli.db)
            #expect(result.status == 66, "\(result)")
            #expect(result.stdout == "")
            #expect(
                result.stderr
                    == "circuitry: no circuit \"unknown\" in \(cli.databasePath); did you mean \"known\"?\n")
        }
    }

    @Test func tripIsSeenByASeparateRunAtOnce() async throws {
        let cli = try CLIHarness()
        let marker = cli.path("ran")
        let run = ["run", "--circuit", "c"] + cli.db + ["--", "sh", "-c", "echo x >> '\(marker)'"]
        try await cli.create("c")
        let tripped = try await cli.run(["trip", "c", "--reason", "maintenance", "--for", "10m"] + cli.db)
        #expect(tripped.status == 0, "\(tripped)")
        #expect(tripped.stdout.hasPrefix("c: forced open until "))

        let rejected = try await cli.run(run)
        #expect(rejected.status == 75, "\(rejected)")
        #expect(rejected.stderr.contains("was forced open (maintenance); retry after "), "\(rejected)")
        #expect(rejected.stderr.contains(isoInstant))
        #expect(!FileManager.default.fileExists(atPath: marker))
        let circuit = try await cli.circuit("c")
        #expect(circuit["override"] as? String == "forced-open")
        #expect(circuit["override_reason"] as? String == "maintenance")

        // Forced open with no end: no retry time, and the message says so.
        #expect(try await cli.run(["trip", "c"] + cli.db).status == 0)
        let indefinitely = try await cli.run(run)
        #expect(indefinitely.status == 75)
        #expect(indefinitely.stderr.contains("until an operator closes or resets it"), "\(indefinitely)")
    }

    @Test func closeHoldsTheCircuitClosedUntilReset() async throws {
        let cli = try CLIHarness()
        try await fail(cli, "c", times: 1, threshold: 1)
        #expect(try await cli.run(["run", "--circuit", "c"] + cli.db + ["--", "true"]).status == 75)
        let closed = try await cli.run(["close", "c", "--reason", "known issue"] + cli.db)
        #expect(closed.status == 0, "\(closed)")
        #expect(closed.stdout == "c: forced closed until it is reset\n")
        try await fail(cli, "c", times: 3, threshold: 1)
        var circuit = try await cli.circuit("c")
        #expect(circuit["state"] as? String == "closed")
        #expect(circuit["override"] as? String == "forced-closed")
        #expect(circuit["failures"] as? Int == 3)

        let reset = try await cli.run(["reset", "c"] + cli.db)
        #expect(reset.status == 0, "\(reset)")
        circuit = try await cli.circuit("c")
        #expect(circuit["override"] is NSNull)
        #expect(circuit["failures"] as? Int == 0)
        #expect(circuit["state"] as? String == "closed")
    }

    @Test func forgetRemovesTheRecordAndKeepsTheHistory() async throws {
        let cli = try CLIHarness()
        try await fail(cli, "gone", times: 1, threshold: 1)
        let forgotten = try await cli.run(["forget", "gone"] + cli.db)
        #expect(forgotten.status == 0, "\(forgotten)")
        #expect(forgotten.stdout == "gone: forgotten\n")
        #expect(try await cli.run(["show", "gone"] + cli.db).status == 66)
        let again = try await cli.run(["forget", "gone"] + cli.db)
        #expect(again.status == 66)
        #expect(again.stderr.contains("no circuit \"gone\""), "\(again)")
        #expect(again.stderr.contains("its history is kept"), "\(again)")
        let history = try await cli.run(["history", "gone"] + cli.db)
        #expect(history.stdout.split(separator: "\n").count == 1)
        // The next run starts a fresh closed circuit.
        #expect(try await cli.run(["run", "--circuit", "gone"] + cli.db + ["--", "true"]).status == 0)
    }

    @Test func prunesOnlyIdleClosedCircuits() async throws {
        let cli = try CLIHarness()
        try await fail(cli, "tripped", times: 1, threshold: 1)
        #expect(try await cli.run(["run", "--circuit", "healthy"] + cli.db + ["--", "true"]).status == 0)
        let none = try await cli.run(["prune", "--idle", "1h"] + cli.db)
        #expect(none.status == 0, "\(none)")
        #expect(none.stdout.isEmpty)
        let pruned = try await cli.run(["prune", "--idle", "1ms"] + cli.db)
        #expect(pruned.status == 0, "\(pruned)")
        #expect(pruned.stdout == "healthy\n")
        #expect(try await cli.run(["show", "healthy"] + cli.db).status == 66)
        #expect(try await cli.run(["show", "tripped"] + cli.db).status == 0)
        #expect(try await cli.run(["prune", "--idle", "soon"] + cli.db).status == 64)
    }

    @Test func historyPrintsTransitionsOldestFirst() async throws {
        let cli = try CLIHarness()
        try await fail(cli, "a", times: 1, threshold: 1)
        #expect(try await cli.run(["reset", "a"] + cli.db).status == 0)
        #expect(try await cli.run(["trip", "b", "--create"] + cli.db).status == 0)

        let all = try await cli.run(["history", "--json"] + cli.db)
        #expect(all.status == 0, "\(all)")
        let entries = try jsonLines(all.stdout)
        #expect(entries.map { $0["circuit"] as? String } == ["a", "a", "b"])
        #expect(entries.map { $0["to_state"] as? String } == ["open", "closed", "open"])
        let ids = entries.compactMap { $0["id"] as? Int }
        #expect(ids == ids.sorted())
        #expect(
            Set(entries[0].keys) == ["id", "at", "circuit", "from_state", "to_state", "generation", "reason", "actor"])

        let one = try await cli.run(["history", "b"] + cli.db)
        #expect(one.stdout.split(separator: "\n").count == 1)
        #expect(one.stdout.contains("  b  closed -> open  "), "\(one)")
        let limited = try await cli.run(["history", "--limit", "1", "--json"] + cli.db)
        #expect(try jsonLines(limited.stdout).map { $0["circuit"] as? String } == ["b"])
    }

    @Test func historyFollowPrintsNewTransitionsUntilInterrupted() async throws {
        let cli = try CLIHarness()
        try await cli.create()
        #expect(try await cli.run(["trip", "first", "--create"] + cli.db).status == 0)
        let follower = try cli.launch(["history", "--follow", "--json"] + cli.db)
        let sawFirst = await cli.eventually { follower.stdoutSoFar.split(separator: "\n").count == 1 }
        #expect(sawFirst)
        #expect(try await cli.run(["trip", "second", "--reason", "later", "--create"] + cli.db).status == 0)
        let sawSecond = await cli.eventually { follower.stdoutSoFar.split(separator: "\n").count == 2 }
        #expect(sawSecond, "\(follower.stdoutSoFar)")
        kill(follower.pid, SIGINT)
        let result = try await follower.wait(timeout: .seconds(10))
        #expect(result.status == 0, "\(result)")
        let entries = try jsonLines(result.stdout)
        #expect(entries.map { $0["circuit"] as? String } == ["first", "second"])
        #expect(entries.last?["reason"] as? String == "forced open: later")
    }

    @Test func readsADatabaseThatAUserAlreadyHas() async throws {
        let cli = try CLIHarness()
        let path = try cli.copyFixture("sample-v1.sqlite")
        let listed = try await cli.run(["list", "--json", "--db", path])
        #expect(listed.status == 0, "\(listed)")
        let circuits = try jsonLines(listed.stdout)
        #expect(circuits.map { $0["name"] as? String } == ["billing/initech", "send-email/acme", "send-email/globex"])
        #expect(circuits[1]["successes"] as? Int == 118)
        let shown = try await cli.run(["show", "send-email/globex", "--db", path])
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.stdout.contains("half-open -> open  gen 8  probe failed  (pid 102 on worker-1)"), "\(shown)")
    }

    @Test func databaseComesFromTheEnvironmentWhenDbIsNotGiven() async throws {
        let cli = try CLIHarness()
        let environment = ["CIRCUITRY_DB": cli.databasePath]
        #expect(try await cli.run(["init"], environment: environment).status == 0)
        #expect(try await cli.run(["trip", "env", "--create"], environment: environment).status == 0)
        let listed = try await cli.run(["list", "--json"], environment: environment)
        #expect(try jsonLines(listed.stdout).map { $0["name"] as? String } == ["env"])
        // --db wins over the environment.
        let other = cli.path("other.sqlite")
        #expect(try await cli.run(["init", "--db", other], environment: environment).status == 0)
        #expect(try await cli.run(["reset", "x", "--create", "--db", other], environment: environment).status == 0)
        let fromOther = try await cli.run(["list", "--json", "--db", other], environment: environment)
        #expect(try jsonLines(fromOther.stdout).map { $0["name"] as? String } == ["x"])
    }
}
