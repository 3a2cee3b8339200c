import ArgumentParser
import CircuitryCLITestSupport
import CircuitryCommandLine
import Foundation
import Testing

/// Every validation error names the option the user typed, with the value as typed, never a Swift property path.
@Suite struct OptionMessageTests {
    /// Options of `run` out of range, and the start of the one-line message each gets.
    static let cases: [(options: [String], message: String)] = [
        (["--failure-rate", "2"], "--failure-rate is 2; expected more than 0 and at most 1"),
        (["--failure-rate", "0"], "--failure-rate is 0; expected more than 0 and at most 1"),
        (["--failure-rate", "nan"], "--failure-rate is nan; expected more than 0 and at most 1"),
        (["--slow-call", "1s", "--slow-call-rate", "1.5"], "--slow-call-rate is 1.5; expected more than 0"),
        (["--slow-call-rate", "0.5"], "--slow-call-rate needs --slow-call"),
        (["--failure-threshold", "0"], "--failure-threshold is 0; expected at least 1"),
        (["--close-threshold", "101"], "--close-threshold is 101; expected from 1 to 100"),
        (["--rate-buckets", "0"], "--rate-buckets is 0; expected from 1 to 60"),
        (["--minimum-throughput", "0"], "--minimum-throughput is 0; expected at least 1"),
        (["--rate-window", "5ms"], "--rate-window is 5ms; expected at least 1 millisecond per bucket (10 buckets)"),
        (["--backoff-factor", "0.5"], "--backoff-factor is 0.5; expected from 1 to 100"),
        (["--backoff-factor", "inf"], "--backoff-factor is inf; expected from 1 to 100"),
        (["--backoff-jitter", "1"], "--backoff-jitter is 1; expected at least 0 and less than 1"),
        (["--ignore-exit", "0"], "--ignore-exit takes an exit status from 1 to 255; 0 is not one"),
    ]

    @Test(arguments: cases)
    func aSettingOutOfRangeIsNamedByItsOption(example: (options: [String], message: String)) async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["run", "--circuit", "x"] + example.options + cli.db + ["--", "true"])
        expectUsageError(result, saying: example.message)
        let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.firstMatch(of: Self.swiftName) == nil, "a Swift name in \(first)")
        #expect(!FileManager.default.fileExists(atPath: cli.databasePath), "nothing was opened")
    }

    /// A camelCase or dotted identifier, as in `rateWindow.failureRateThreshold` or `failureThreshold`.
    static var swiftName: Regex<Substring> { #/[a-z]+[A-Z][A-Za-z]*|[a-z]+\.[a-z]+[A-Z]/# }

    @Test func otherSubcommandsNameTheirOptionsToo() async throws {
        let cli = try CLIHarness()
        expectUsageError(try await cli.run(["show", "x", "--history-limit", "-1"] + cli.db), saying: "--history-limit")
        expectUsageError(try await cli.run(["history", "--limit", "-1"] + cli.db), saying: "--limit")
        expectUsageError(try await cli.run(["list", "--state", "opn"] + cli.db), saying: "--state")
        expectUsageError(try await cli.run(["list", "--log-level", "loud"] + cli.db), saying: "--log-level")
        expectUsageError(try await cli.run(["list", "--color", "blue"] + cli.db), saying: "--color")
        expectUsageError(try await cli.run(["list", "--watch", "--json"] + cli.db), saying: "--watch")
    }

    /// In process: every setting the options can get wrong maps to an option, so that no message falls back to the
    /// library's own names.
    @Test func everySettingTheOptionsCanGetWrongHasAnOption() throws {
        for example in Self.cases where example.options.first != "--ignore-exit" {
            do {
                _ = try BreakerSettingsOptions.parse(example.options)
                Issue.record("\(example.options) validated")
            } catch {
                let message = BreakerSettingsOptions.message(for: error)
                #expect(message.hasPrefix(example.message), "\(example.options): \(message)")
                #expect(message.firstMatch(of: Self.swiftName) == nil, "\(message)")
            }
        }
    }
}
