import CircuitryCLITestSupport
import Foundation
import Testing

@testable import CircuitryCLI

/// A typo never creates state: a circuit or a database that does not exist is refused, with the names it is close
/// to, and the database is left byte for byte as it was.
@Suite struct TypoTests {
    /// The database file's bytes, and which of its `-wal` and `-shm` files exist.
    private func fileState(_ cli: CLIHarness) throws -> (bytes: Data, companions: [String]) {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: cli.databasePath))
        let companions = ["-wal", "-shm", "-journal"].filter {
            FileManager.default.fileExists(atPath: cli.databasePath + $0)
        }
        return (bytes, companions)
    }

    @Test(arguments: ["trip", "close", "reset", "forget"])
    func aMistypedCircuitIsRefusedAndTheDatabaseIsLeftAsItWas(command: String) async throws {
        let cli = try CLIHarness()
        try await cli.create("upstream", "send-email/acme")
        let before = try fileState(cli)
        #expect(before.companions.isEmpty, "a database no process has open has no -wal or -shm")

        let result = try await cli.run([command, "upstrem"] + cli.db)
        #expect(result.status == 66, "\(result)")
        #expect(result.stdout == "")
        let create = command == "forget" ? "" : " To create it, add --create."
        #expect(
            result.stderr
                == "circuitry: no circuit \"upstrem\" in \(cli.databasePath); did you mean \"upstream\"?\(create)\n")

        let after = try fileState(cli)
        #expect(after.bytes == before.bytes, "the database is byte for byte as it was")
        #expect(after.companions.isEmpty, "no -wal or -shm left behind: \(after.companions)")
        let names = try jsonLines(try await cli.run(["list", "--json"] + cli.db).stdout).map { $0["name"] as? String }
        #expect(names == ["send-email/acme", "upstream"])
    }

    @Test func theRealRunOfTheIssueTripsNothing() async throws {
        // `circuitry trip upstrem --for 10m` forced a new circuit open while the real one kept running.
        let cli = try CLIHarness()
        #expect(try await cli.run(["run", "--circuit", "upstream"] + cli.db + ["--", "true"]).status == 0)
        let tripped = try await cli.run(["trip", "upstrem", "--for", "10m"] + cli.db)
        #expect(tripped.status == 66, "\(tripped)")
        #expect(tripped.stderr.contains("did you mean \"upstream\"?"), "\(tripped)")
        #expect(try await cli.circuit("upstream")["state"] as? String == "closed")
        #expect(try await cli.run(["show", "upstrem"] + cli.db).status == 66)
    }

    @Test(arguments: ["trip", "close", "reset"])
    func createMakesTheCircuit(command: String) async throws {
        let cli = try CLIHarness()
        try await cli.create()
        let result = try await cli.run([command, "new-one", "--create"] + cli.db)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("new-one: "), "\(result)")
        _ = try await cli.circuit("new-one")
    }

    @Test func suggestionsComeFromEditDistanceAndFromPartsOfNames() async throws {
        let cli = try CLIHarness()
        try await cli.create("send-email/acme", "send-email/globex", "billing/initech")
        func refusal(_ name: String) async throws -> String {
            let result = try await cli.run(["trip", name] + cli.db)
            #expect(result.status == 66, "\(result)")
            return result.stderr
        }
        // A swap of two letters is one edit.
        #expect(try await refusal("send-emial/acme").contains("did you mean \"send-email/acme\"?"))
        // A tenant or a base name alone.
        #expect(try await refusal("acme").contains("did you mean \"send-email/acme\"?"))
        #expect(
            try await refusal("send-email").contains("did you mean \"send-email/acme\" or \"send-email/globex\"?"))
        // A name that begins what was typed, or that it begins.
        #expect(try await refusal("send-email/acme-prod").contains("did you mean \"send-email/acme\"?"))
        #expect(try await refusal("bill").contains("did you mean \"billing/initech\"?"))
        // Nothing close: no suggestion, the way to create it.
        let far = try await refusal("payments")
        #expect(far == "circuitry: no circuit \"payments\" in \(cli.databasePath). To create it, add --create.\n")
    }

    @Test func aForgottenCircuitIsRefusedAndSaysItHasAHistory() async throws {
        let cli = try CLIHarness()
        #expect(
            try await cli.run(["run", "--circuit", "old", "--failure-threshold", "1"] + cli.db + ["--", "false"]).status
                == 1)
        #expect(try await cli.run(["forget", "old"] + cli.db).status == 0)
        let result = try await cli.run(["reset", "old"] + cli.db)
        #expect(result.status == 66, "\(result)")
        #expect(result.stderr.contains("its history is kept: it was forgotten or pruned"), "\(result)")
        #expect(try await cli.run(["reset", "old", "--create"] + cli.db).status == 0)
    }

    @Test func createDoesNotCreateADatabase() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["trip", "x", "--create"] + cli.db)
        expectStorageError(result, location: cli.databasePath, cause: "no database file")
        #expect(!FileManager.default.fileExists(atPath: cli.databasePath))
    }

    @Test func initCreatesAnEmptyDatabaseWhereListThenPrintsNothing() async throws {
        let cli = try CLIHarness()
        let created = try await cli.run(["init"] + cli.db)
        #expect(created.status == 0, "\(created)")
        #expect(created.stdout == "\(cli.databasePath): created an empty Circuitry database\n", "\(created)")
        #expect(FileManager.default.fileExists(atPath: cli.databasePath))

        for arguments in [["list"], ["list", "--json"], ["history"], ["history", "--json"]] {
            let listed = try await cli.run(arguments + cli.db)
            #expect(listed.status == 0, "\(arguments): \(listed)")
            #expect(listed.stdout == "" && listed.stderr == "", "\(arguments): \(listed)")
        }

        // Again: left as it is.
        let before = try fileState(cli)
        let again = try await cli.run(["init"] + cli.db)
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("a Circuitry database already, with 0 circuit(s); left as it is"), "\(again)")
        #expect(try fileState(cli).bytes == before.bytes)
    }

    @Test func initPrintsTheAbsolutePathOfARelativeOne() async throws {
        let cli = try CLIHarness()
        let result = try await cli.launchProcess(
            "/bin/sh",
            ["-c", "cd \"$0\" && exec \"$1\" init --db ./relative.sqlite", cli.folder.path, CLIHarness.binary.path]
        ).wait()
        #expect(result.status == 0, "\(result)")
        let expected = URL(fileURLWithPath: cli.path("relative.sqlite")).resolvingSymlinksInPath().path
        let printed = String(result.stdout.prefix { $0 != ":" })
        #expect(URL(fileURLWithPath: printed).resolvingSymlinksInPath().path == expected, "\(result)")
    }

    @Test func theSuggestionsAreTheNearestNames() {
        #expect(Suggestions.editDistance(Array("upstrem"), Array("upstream")) == 1)
        #expect(Suggestions.editDistance(Array("lsit"), Array("list")) == 1, "a swap is one edit")
        #expect(Suggestions.editDistance(Array(""), Array("abc")) == 3)
        #expect(Suggestions.closest(to: "upstrem", among: ["upstream", "downstream", "up"]) == ["upstream"])
        #expect(Suggestions.closest(to: "lst", among: ["list", "show", "history"]) == ["list"])
        #expect(Suggestions.closest(to: "x", among: []) == [])
        // The same text in two Unicode forms: equal for Swift, different bytes for a store.
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        #expect(Suggestions.closest(to: decomposed, among: [composed, "cafes"]).first == composed)
        #expect(Suggestions.note(for: composed, typed: decomposed) == " (the same name in another Unicode form)")
        // Never more than asked, nearest first, then by name.
        let many = (0..<10).map { "name\($0)" }
        #expect(Suggestions.closest(to: "nameX", among: many) == ["name0", "name1", "name2"])
    }
}
