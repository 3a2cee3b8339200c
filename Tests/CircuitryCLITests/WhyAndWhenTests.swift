import Circuitry
import CircuitryCLITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `list` and `show` answer why a circuit is in its state and since and until when, filter, and colour on a
/// terminal only; their `--json` keys stay as they were.
@Suite struct WhyAndWhenTests {
    /// Opens `circuit` through `run` with a threshold of 1.
    private func open(_ cli: CLIHarness, _ circuit: String, openFor: String = "10m") async throws {
        let result = try await cli.run(
            ["run", "--circuit", circuit, "--failure-threshold", "1", "--open-for", openFor] + cli.db + ["--", "false"])
        #expect(result.status == 1, "\(result)")
    }

    /// What the `sqlite3` shell prints for `sql` on the test's database, trimmed.
    private func sqlite(_ cli: CLIHarness, _ sql: String) async throws -> String {
        let result = try await cli.launchProcess("/usr/bin/env", ["sqlite3", cli.databasePath, sql]).wait()
        try #require(result.status == 0, "needs the sqlite3 shell: \(result)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The rows of `list`, each split into its columns up to WHY, and WHY whole.
    private func rows(_ text: String) -> [(columns: [String], why: String)] {
        text.split(separator: "\n").dropFirst().map { line in
            let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            let why = line.range(of: #"\d+\s+\d+\s+\d+\s+"#, options: .regularExpression).map {
                String(line[$0.upperBound...])
            }
            return (words, why ?? "")
        }
    }

    @Test func anOpenCircuitSaysWhatOpenedItWhoAndWhen() async throws {
        let cli = try CLIHarness()
        for _ in 0..<3 {
            _ = try await cli.run(
                ["run", "--circuit", "svc", "--failure-threshold", "3", "--open-for", "10m"] + cli.db + ["--", "false"])
        }
        let shown = try await cli.run(["show", "svc"] + cli.db)
        #expect(shown.status == 0, "\(shown)")
        let text = shown.stdout
        #expect(text.contains(try Regex(#"state: +open since \d{4}-\d\d-\d\dT[0-9:.]+Z \(\d+m?s ago\)"#)), "\(text)")
        #expect(text.contains("why:             3 consecutive failures\n"), "\(text)")
        #expect(text.contains(try Regex(#"by: +circuitry pid \d+ on "#)), "\(text)")
        #expect(text.contains(try Regex(#"next: +probe in (9m5\d|10m)s?"#)), "\(text)")
        #expect(text.contains(try Regex(#"retry after: +\S+Z \(in (9m5\d|10m)s?\)"#)), "\(text)")
        #expect(text.contains("counts:          since it became open"), "\(text)")

        let listed = try await cli.run(["list"] + cli.db)
        let row = try #require(rows(listed.stdout).first)
        #expect(row.columns.prefix(2) == ["svc", "open"], "\(listed)")
        #expect(row.columns[2].hasSuffix("s") && row.columns[3] == "ago", "SINCE: \(row.columns)")
        #expect(row.why.hasPrefix("3 consecutive failures, by circuitry pid "), "\(listed)")

        let json = try jsonObject(try await cli.run(["show", "svc", "--json"] + cli.db).stdout)
        let last = try #require(json["last_transition"] as? [String: Any])
        #expect(last["to_state"] as? String == "open")
        #expect(last["reason"] as? String == "3 consecutive failures")
        #expect(Set(last.keys) == JSONKeys.transition)
        #expect((json["read_at"] as? String)?.wholeMatch(of: isoInstant) != nil)
    }

    @Test func aForcedCircuitSaysByWhomWhyAndUntilWhen() async throws {
        let cli = try CLIHarness()
        try await cli.create("reports", "held")
        #expect(try await cli.run(["trip", "reports", "--for", "1h", "--reason", "db migration"] + cli.db).status == 0)
        #expect(try await cli.run(["close", "held", "--reason", "known issue"] + cli.db).status == 0)
        let listed = try await cli.run(["list"] + cli.db)
        let rows = rows(listed.stdout)
        #expect(rows.count == 2, "\(listed)")
        #expect(rows[1].columns.prefix(2) == ["reports", "open"], "\(listed)")
        #expect(listed.stdout.contains("forced open, ends in 59m"), "\(listed)")
        #expect(rows[1].why.hasPrefix("forced open: db migration, by circuitry pid "), "\(listed)")
        // Forced closed while closed: no transition, the override says why.
        #expect(rows[0].columns.prefix(3) == ["held", "closed", "-"], "\(listed)")
        #expect(listed.stdout.contains("forced closed until reset"), "\(listed)")
        #expect(rows[0].why == "forced closed: known issue", "\(listed)")
    }

    /// An open circuit whose open period has ended and that no call has touched since is half-open as of its stored
    /// expiry: `show` says so, and since when.
    @Test func timeAloneIsToldApartFromATransition() async throws {
        let cli = try CLIHarness()
        try await open(cli, "lazy", openFor: "300ms")
        // The stored expiry (the circuit may already be half-open, which shows none), with the sqlite3 shell.
        let stored = try await sqlite(cli, "select expires_at from circuits where name = 'lazy'")
        let expiry = Timestamp(millisecondsSince1970: try #require(Int64(stored)))
        let halfOpen = try await cli.eventually { try await cli.circuit("lazy")["state"] as? String == "half-open" }
        try #require(halfOpen)
        let shown = try await cli.run(["show", "lazy"] + cli.db)
        #expect(shown.stdout.contains("state:           half-open since \(expiry) ("), "\(expiry): \(shown)")
        #expect(shown.stdout.contains("stored state:    open (until the next call writes it)"), "\(shown)")
        #expect(shown.stdout.contains("why:             its open period ended, and no call has come since"))
        #expect(shown.stdout.contains("next:            a probe may run now"), "\(shown)")
    }

    @Test func filtersByStateAndPrefix() async throws {
        let cli = try CLIHarness()
        try await cli.create("send-email/globex", "billing")
        try await open(cli, "send-email/acme")
        try await open(cli, "billing")
        func names(_ filters: [String]) async throws -> [String] {
            let result = try await cli.run(["list", "--json"] + filters + cli.db)
            #expect(result.status == 0, "\(filters): \(result)")
            return try jsonLines(result.stdout).compactMap { $0["name"] as? String }
        }
        #expect(try await names(["--state", "open"]) == ["billing", "send-email/acme"])
        #expect(try await names(["--prefix", "send-email/"]) == ["send-email/acme", "send-email/globex"])
        #expect(try await names(["--state", "open", "--prefix", "send-email/"]) == ["send-email/acme"])
        #expect(try await names(["--state", "closed", "--state", "open"]).count == 3)
        #expect(try await names(["--state", "half-open"]) == [])
        let none = try await cli.run(["list", "--state", "half-open"] + cli.db)
        #expect(none.status == 0 && none.stdout == "", "no match, no lines: \(none)")
        let table = try await cli.run(["list", "--prefix", "send-email/"] + cli.db)
        #expect(rows(table.stdout).map { $0.columns[0] } == ["send-email/acme", "send-email/globex"])
        expectUsageError(try await cli.run(["list", "--state", "opn"] + cli.db), saying: "'--state <state>'")
    }

    @Test func colourOnlyOnATerminalAndNeverWithNoColor() async throws {
        let cli = try CLIHarness()
        try await open(cli, "red")
        let escape = "\u{1B}["
        let piped = try await cli.run(["list"] + cli.db)
        #expect(!piped.stdout.contains(escape), "not a terminal: no colour")
        let forced = try await cli.run(["list", "--color", "always"] + cli.db)
        #expect(forced.stdout.contains("\(escape)1;31mopen\(escape)0m"), "\(forced)")
        let shown = try await cli.run(["show", "red", "--color", "always"] + cli.db, environment: ["NO_COLOR": "1"])
        #expect(shown.stdout.contains(escape), "--color always wins over NO_COLOR")

        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return }
        // `script` gives circuitry a terminal.
        func onATerminal(_ environment: [String: String]) async throws -> String {
            let command = "\(CLIHarness.binary.path) list --db \(cli.databasePath)"
            let result = try await cli.launchProcess(
                "/usr/bin/script", ["-qec", command, "/dev/null"], environment: environment
            ).wait()
            #expect(result.status == 0, "\(result)")
            return result.stdout
        }
        // NO_COLOR set to nothing is not set (https://no-color.org); `swift test` may set it for the tests.
        let coloured = try await onATerminal(["TERM": "xterm", "NO_COLOR": ""])
        #expect(coloured.contains("\(escape)1;31mopen"), "a terminal: colour: \(coloured.debugDescription)")
        #expect(!(try await onATerminal(["TERM": "xterm", "NO_COLOR": "1"]).contains(escape)), "NO_COLOR")
        #expect(!(try await onATerminal(["TERM": "dumb", "NO_COLOR": ""]).contains(escape)), "TERM=dumb")
    }

    @Test func watchRedrawsUntilInterrupted() async throws {
        let cli = try CLIHarness()
        try await cli.create("first")
        let watcher = try cli.launch(["list", "--watch", "--interval", "100ms"] + cli.db)
        #expect(await cli.eventually { watcher.stdoutSoFar.contains("first") })
        try await open(cli, "second")
        #expect(await cli.eventually { watcher.stdoutSoFar.contains("second") }, "\(watcher.stdoutSoFar)")
        kill(watcher.pid, SIGINT)
        let result = try await watcher.wait(timeout: .seconds(10))
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("every 100ms, at "), "\(result)")
        #expect(!result.stdout.contains("\u{1B}[2J"), "not a terminal: frames follow each other")
    }

    /// The keys that scripts rely on: every key the first release printed is still there (added to, never renamed
    /// or removed), and the full set is pinned so that an addition is a decision (and documented).
    @Test func jsonKeysArePinned() async throws {
        let cli = try CLIHarness()
        try await open(cli, "a")
        #expect(JSONKeys.circuit.isSuperset(of: JSONKeys.sinceFirstRelease))
        let listed = try jsonLines(try await cli.run(["list", "--json"] + cli.db).stdout)
        #expect(listed.map { Set($0.keys) } == [JSONKeys.circuit])
        let shown = try jsonObject(try await cli.run(["show", "a", "--json"] + cli.db).stdout)
        #expect(Set(shown.keys) == JSONKeys.circuit.union(["history"]))
        for transition in try #require(shown["history"] as? [[String: Any]]) {
            #expect(Set(transition.keys) == JSONKeys.transition)
        }
        let history = try jsonLines(try await cli.run(["history", "--json"] + cli.db).stdout)
        #expect(history.map { Set($0.keys) } == [JSONKeys.transition])
    }
}
