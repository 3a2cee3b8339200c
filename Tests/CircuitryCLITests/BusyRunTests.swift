import CircuitryCLITestSupport
import Foundation
import Testing

/// What `run` does when another process holds the database's write lock past the bound, as its help and
/// `Docs/cli.md` say: on a closed circuit admission is a read, so the command runs and its own status stands, with a
/// warning that the outcome was not recorded; where admission must write (half-open), the command is not started
/// and `circuitry` exits with 74.
@Suite struct BusyRunTests {
    @Test func onAClosedCircuitTheCommandRunsAndItsStatusStandsWithAWarning() async throws {
        let cli = try CLIHarness()
        try await cli.create("closed")
        let marker = cli.path("ran")
        let result = try await cli.whileWriteLocked {
            try await cli.run(
                ["run", "--circuit", "closed"] + cli.db + ["--", "sh", "-c", "echo ran > '\(marker)'; exit 3"])
        }
        #expect(FileManager.default.fileExists(atPath: marker), "admission is a read: the command ran")
        #expect(result.status == 3, "the command's own status: \(result)")
        #expect(
            result.stderr.hasPrefix("circuitry: the command's outcome (failure) was not recorded: "), "\(result)")
        #expect(result.stderr.contains("(busy)"), "\(result)")
        #expect(try await cli.circuit("closed")["failures"] as? Int == 0, "not counted")
    }

    @Test func whereAdmissionMustWriteTheCommandIsNotStartedAnd74() async throws {
        let cli = try CLIHarness()
        let failing = ["run", "--circuit", "probe", "--failure-threshold", "1", "--open-for", "200ms"] + cli.db
        #expect(try await cli.run(failing + ["--", "false"]).status == 1)
        let halfOpen = try await cli.eventually { try await cli.circuit("probe")["state"] as? String == "half-open" }
        try #require(halfOpen)
        let marker = cli.path("ran")
        let result = try await cli.whileWriteLocked {
            try await cli.run(failing + ["--", "sh", "-c", "echo ran > '\(marker)'"])
        }
        expectStorageError(result, location: cli.databasePath, cause: "busy")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command was not started")
    }
}
