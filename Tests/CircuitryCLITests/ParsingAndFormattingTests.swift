import ArgumentParser
import CircuitryCLITestSupport
import CircuitryCommandLine
import Foundation
import Testing

@testable import Circuitry
@testable import CircuitryCLI

/// The command's parsing, outcome rules and output forms, in process.
@Suite struct ParsingAndFormattingTests {
    @Test(arguments: [
        ("250ms", 250), ("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), (" 1s ", 1000), ("1ms", 1),
        ("1.5s", 1500), ("1d", 86_400_000),
    ])
    func durations(text: String, milliseconds: Int64) throws {
        #expect(try DurationArgument(parsing: text).milliseconds == milliseconds)
        #expect(try DurationArgument(parsing: text).duration == .milliseconds(milliseconds))
    }

    @Test(arguments: [
        "", "5", "ms", "5x", "-1s", "+1s", "0s", "0ms", "1.5ms", "1 s", "1S", "1y", "9223372036854775807h",
    ])
    func badDurations(text: String) {
        #expect(throws: ValidationError.self) { try DurationArgument(parsing: text) }
    }

    @Test func waitStatusDecoding() {
        #expect(ChildEnding(waitStatus: 0) == .exited(0))
        #expect(ChildEnding(waitStatus: 3 << 8) == .exited(3))
        #expect(ChildEnding(waitStatus: 9) == .killed(signal: 9))
        #expect(ChildEnding(waitStatus: 15 | 0x80) == .killed(signal: 15), "core dumped")
        #expect(ChildEnding.killed(signal: 9).shellStatus == 137)
        #expect(ChildEnding.exited(42).shellStatus == 42)
    }

    @Test func outcomes() {
        func outcome(_ ending: ChildEnding, timedOut: Bool = false, signal: Int32? = nil) -> CallOutcome {
            RunCommand.outcome(
                of: .init(ending: ending, timedOut: timedOut), interruptedBy: signal, ignoredExitStatuses: [3])
        }
        #expect(outcome(.exited(0)) == .success)
        #expect(outcome(.exited(1)) == .failure)
        #expect(outcome(.exited(3)) == .success, "--ignore-exit 3")
        #expect(outcome(.killed(signal: 9)) == .failure, "killed by someone else")
        #expect(outcome(.killed(signal: 15), signal: 15) == .ignored, "ended by the signal circuitry passed on")
        #expect(outcome(.killed(signal: 9), signal: 15) == .failure)
        #expect(outcome(.killed(signal: 15), timedOut: true) == .failure)
        #expect(outcome(.exited(0), timedOut: true) == .failure)
        #expect(outcome(.exited(143), signal: 15) == .ignored, "exited 128 + the signal passed on, as a JVM does")
        #expect(outcome(.exited(130), signal: 2) == .ignored)
        #expect(outcome(.exited(143)) == .failure, "143 with no signal passed on is a plain failure")
        #expect(outcome(.exited(130), signal: 15) == .failure, "128 + another signal")
        #expect(outcome(.exited(143), timedOut: true, signal: 15) == .failure, "a timeout is a failure")

        func atTerminal(_ ending: ChildEnding) -> CallOutcome {
            RunCommand.outcome(
                of: .init(ending: ending, timedOut: false, heldTerminal: true), interruptedBy: nil,
                ignoredExitStatuses: [])
        }
        #expect(atTerminal(.killed(signal: SIGINT)) == .ignored, "^C typed while the command had the terminal")
        #expect(atTerminal(.exited(128 + SIGQUIT)) == .ignored, "^\\ handled, exiting 131")
        #expect(atTerminal(.killed(signal: SIGTERM)) == .failure, "a terminal does not send SIGTERM")
        #expect(atTerminal(.exited(1)) == .failure)
        #expect(RunCommand.exitStatus(of: .init(ending: .killed(signal: 15), timedOut: true)) == 124)
        #expect(RunCommand.exitStatus(of: .init(ending: .killed(signal: 2), timedOut: false)) == 130)
    }

    @Test func runOptionsBecomeSettings() async throws {
        let plain = try await RunCommand.asyncParse(["--circuit", "x", "--db", "/tmp/b", "--", "true"])
        #expect(plain.settings.failureThreshold == 5)
        #expect(plain.settings.openDuration == .seconds(60))
        #expect(plain.settings.probeTimeout == .seconds(30))
        #expect(plain.command == ["true"])

        let tuned = try await RunCommand.asyncParse([
            "--circuit", "x", "--db", "/tmp/b", "--failure-threshold", "3", "--close-threshold", "2", "--open-for",
            "5m", "--timeout", "2m", "--ignore-exit", "3", "--ignore-exit", "4", "--", "sh", "-c", "exit 3",
        ])
        #expect(tuned.settings.failureThreshold == 3)
        #expect(tuned.settings.closeThreshold == 2)
        #expect(tuned.settings.openDuration == .seconds(300))
        #expect(tuned.settings.probeTimeout == .seconds(123), "a probe's lease outlives --timeout + --kill-after")
        #expect(tuned.ignoredExitStatuses == [3, 4])
        #expect(tuned.command == ["sh", "-c", "exit 3"])

        let explicit = try await RunCommand.asyncParse([
            "--circuit", "x", "--db", "b", "--probe-timeout", "1s", "--", "true",
        ])
        #expect(explicit.settings.probeTimeout == .seconds(1))

        let policies = try await RunCommand.asyncParse([
            "--circuit", "x", "--db", "b", "--failure-rate", "0.5", "--rate-window", "30s", "--minimum-throughput",
            "10", "--slow-call", "2s", "--slow-call-rate", "0.8", "--backoff-factor", "3", "--backoff-max", "10m",
            "--", "true",
        ])
        let settings = policies.settings
        #expect(
            settings.rateWindow
                == RateWindowPolicy(
                    samplingDuration: .seconds(30), minimumThroughput: 10, failureRateThreshold: 0.5,
                    slowCallRateThreshold: 0.8))
        #expect(settings.slowCallDuration == .seconds(2))
        try settings.validate()
        await #expect(throws: (any Error).self) {
            try await RunCommand.asyncParse(["--circuit", "x", "--db", "b", "--failure-rate", "2", "--", "true"])
        }
        await #expect(throws: (any Error).self) {
            try await RunCommand.asyncParse(["--circuit", "x", "--db", "b", "--slow-call-rate", "0.5", "--", "true"])
        }
    }

    @Test func databasePathResolution() throws {
        #expect(try StoreOptions.resolve("a.sqlite", environment: ["CIRCUITRY_DB": "b.sqlite"]) == "a.sqlite")
        #expect(try StoreOptions.resolve(nil, environment: ["CIRCUITRY_DB": "b.sqlite"]) == "b.sqlite")
        #expect(throws: ValidationError.self) { try StoreOptions.resolve(nil, environment: [:]) }
        #expect(throws: ValidationError.self) { try StoreOptions.resolve(nil, environment: ["CIRCUITRY_DB": ""]) }
        #expect(throws: ValidationError.self) { try StoreOptions.resolve("", environment: [:]) }
    }

    private static func snapshot(
        _ name: String, state: CircuitState, failures: Int64, expiresAt: Timestamp? = nil,
        override: CircuitOverride? = nil
    ) -> CircuitSnapshot {
        let now = Timestamp(millisecondsSince1970: 1_800_000_000_000)
        let counts = CircuitCounts(
            requests: failures + 10, successes: 10, failures: failures, consecutiveSuccesses: 0,
            consecutiveFailures: failures)
        let record = CircuitRecord(
            name: name, state: state, generation: 12, counts: counts, expiresAt: expiresAt, probes: [],
            override: override, openAttempts: state == .open ? 1 : 0, updatedAt: now)
        return CircuitSnapshot(record: record, storedState: state, now: now, unflushedSuccesses: 0)
    }

    /// A report on a snapshot whose latest transition is `transition` (at 3 minutes before the snapshot's now).
    private static func report(_ snapshot: CircuitSnapshot, transition: (CircuitState, String)? = nil) -> CircuitReport
    {
        let entry = transition.map { state, reason in
            HistoryEntry(
                id: 7,
                transition: CircuitTransition(
                    circuit: snapshot.record.name, from: .closed, to: state, generation: snapshot.record.generation,
                    at: snapshot.now - .seconds(180), reason: reason, actor: "pid 42 on worker-2"))
        }
        return CircuitReport(snapshot: snapshot, lastTransition: entry, changedByTimeAt: nil)
    }

    @Test func tableAlignsColumnsAndSaysWhyAndSinceWhen() {
        let expiry = Timestamp(millisecondsSince1970: 1_800_000_027_000)
        let table = TextFormat.table([
            Self.report(
                Self.snapshot("send-email/acme", state: .open, failures: 5, expiresAt: expiry),
                transition: (.open, "5 consecutive failures")),
            Self.report(
                Self.snapshot("x", state: .closed, failures: 0, override: .forcedClosed(reason: "known\nissue"))),
        ])
        #expect(
            table == """
                NAME             STATE   SINCE   NEXT                       REQUESTS  FAILURES  CONSEC  WHY
                send-email/acme  open    3m ago  probe in 27s                     15         5       5  5 consecutive failures, by pid 42 on worker-2
                x                closed  -       forced closed until reset        10         0       0  forced closed: known issue
                """)
    }

    @Test func showSaysWhySinceWhenAndUntilWhenWithAbsoluteAndRelativeTimes() {
        let expiry = Timestamp(millisecondsSince1970: 1_800_000_027_000)
        let details = TextFormat.details(
            Self.report(
                Self.snapshot("send-email/acme", state: .open, failures: 0, expiresAt: expiry),
                transition: (.open, "5 consecutive failures")),
            history: [])
        #expect(details.contains("state:           open since 2027-01-15T07:57:00.000Z (3m ago)"), "\(details)")
        #expect(details.contains("why:             5 consecutive failures\n"), "\(details)")
        #expect(details.contains("by:              pid 42 on worker-2\n"), "\(details)")
        #expect(details.contains("next:            probe in 27s\n"), "\(details)")
        #expect(details.contains("retry after:     2027-01-15T08:00:27.000Z (in 27s)"), "\(details)")
    }

    @Test func colourOnlyWhenEnabled() {
        let snapshot = Self.snapshot("a", state: .open, failures: 1)
        let plain = TextFormat.table([Self.report(snapshot)], palette: Palette(enabled: false))
        let coloured = TextFormat.table([Self.report(snapshot)], palette: Palette(enabled: true))
        #expect(!plain.contains("\u{1B}"))
        #expect(coloured.contains("\u{1B}[1;31mopen\u{1B}[0m"))
        #expect(coloured.replacing(/\x{1B}\[[0-9;]*m/, with: "") == plain, "colour changes no column")
        for (mode, environment, enabled) in [
            (ColorMode.always, ["NO_COLOR": "1"], true), (.never, [:], false), (.auto, ["NO_COLOR": "1"], false),
        ] {
            #expect(Palette.forStandardOutput(mode, environment: environment).enabled == enabled, "\(mode)")
        }
    }

    @Test func jsonHasEveryKeyWithNullsAndISOTimes() throws {
        let until = Timestamp(millisecondsSince1970: 1_800_000_060_000)
        let snapshot = Self.snapshot(
            "a/b", state: .open, failures: 5, expiresAt: until, override: .forcedOpen(until: until, reason: nil))
        let line = JSONLines.line(CircuitJSON(Self.report(snapshot)))
        #expect(!line.contains("\n"))
        #expect(line.contains("\"name\":\"a/b\""))
        let object = try jsonObject(line)
        #expect(Set(object.keys) == JSONKeys.circuit)
        #expect(object["last_transition"] is NSNull)
        #expect(object["read_at"] as? String == "2027-01-15T08:00:00.000Z")
        #expect(object["override"] as? String == "forced-open")
        #expect(object["override_until"] as? String == "2027-01-15T08:01:00.000Z")
        #expect(object["override_reason"] is NSNull)
        #expect(object["retry_after"] as? String == "2027-01-15T08:01:00.000Z")
        #expect(object["history"] == nil, "only show adds a history")
    }
}
