import ArgumentParser
import CircuitryCLITestSupport
import CircuitryCommandLine
import Foundation
import Testing

/// Durations in the forms people, Go and systemd write, one parser for every option, printed in the same forms.
@Suite struct DurationTests {
    /// Each accepted form, its value, and how `circuitry` prints it.
    static let forms: [(text: String, milliseconds: Int64, printed: String)] = [
        ("500ms", 500, "500ms"), ("90s", 90_000, "1m30s"), ("1.5s", 1500, "1.5s"), ("1h30m", 5_400_000, "1h30m"),
        ("2d", 172_800_000, "2d"), ("1w", 604_800_000, "1w"), ("1h 30min", 5_400_000, "1h30m"),
        ("720h", 2_592_000_000, "4w2d"), ("30d", 2_592_000_000, "4w2d"), ("1.5h", 5_400_000, "1h30m"),
        ("0.5s", 500, "500ms"), (".25s", 250, "250ms"), ("1m0.5s", 60_500, "1m500ms"), ("1d12h", 129_600_000, "1d12h"),
        ("1w2d3h4m5s6ms", 788_645_006, "1w2d3h4m5.006s"), ("10min", 600_000, "10m"), ("007s", 7000, "7s"),
        ("0.0009765625w", 590_625, "9m50.625s"),
    ]

    @Test(arguments: forms)
    func everyFormParsesAndPrintsInAFormThatParsesBack(form: (text: String, milliseconds: Int64, printed: String))
        throws
    {
        let duration = try DurationArgument(parsing: form.text)
        #expect(duration.milliseconds == form.milliseconds, "\(form.text)")
        #expect(duration.description == form.printed, "\(form.text)")
        #expect(try DurationArgument(parsing: duration.description) == duration, "round trip of \(form.text)")
    }

    @Test func everyValueRoundTripsThroughItsPrintedForm() throws {
        var random = SystemRandomNumberGenerator()
        var values: [Int64] = [1, 999, 1000, 1001, 59_999, 60_000, 86_400_000, DurationArgument.maximumMilliseconds]
        // Values of every magnitude, from milliseconds to the maximum.
        for _ in 0..<2000 {
            let digits = Int64.random(in: 0...12, using: &random)
            var bound: Int64 = 1
            for _ in 0..<digits { bound *= 10 }
            values.append(Int64.random(in: 1...min(bound, DurationArgument.maximumMilliseconds), using: &random))
        }
        for value in values {
            let printed = DurationArgument.format(milliseconds: value)
            #expect(try DurationArgument(parsing: printed).milliseconds == value, "\(value) printed as \(printed)")
            let rough = DurationArgument.roughly(milliseconds: value)
            let parsed = try DurationArgument(parsing: rough).milliseconds
            #expect(parsed <= value && parsed > 0, "\(value) roughly \(rough)")
        }
        #expect(DurationArgument.roughly(milliseconds: 192_400) == "3m12s")
        #expect(DurationArgument.roughly(milliseconds: 27_400) == "27s")
        #expect(DurationArgument.roughly(milliseconds: 90_061_001) == "1d1h")
        #expect(DurationArgument.roughly(milliseconds: 400) == "400ms")
        #expect(DurationArgument.format(milliseconds: .min).hasPrefix("-"), "no trap on any value")
        #expect(DurationArgument.roughly(milliseconds: .min).hasPrefix("-"))
    }

    /// What is refused, and what the message says besides the accepted forms.
    static let refusals: [(text: String, why: String)] = [
        ("90", "\"90\" needs a unit"), ("", "it is empty"), ("5x", "\"x\" is not a unit"),
        ("1M", "\"M\" is not a unit"), ("1Y", "\"Y\" is not a unit"), ("1m1h", "from the largest to the smallest"),
        ("1h1h", "from the largest to the smallest"), ("1h30", "\"30\" needs a unit"), ("-1s", "is not a duration"),
        ("+1s", "is not a duration"), ("0s", "longer than zero"), ("0.0001s", "not a whole number of milliseconds"),
        ("1.5ms", "not a whole number of milliseconds"), ("1.2.3s", "is not a number"), ("ms", "has no number"),
        ("101y", "\"y\" is not a unit"), ("5300w", "too long"), ("9223372036854775807ms", "too long"),
        ("99999999999999999999999h", "too long"), ("1 s", "is not a duration"), ("٣s", "is not a duration"),
    ]

    @Test(arguments: refusals)
    func ambiguityIsRefusedWithTheAcceptedForms(refusal: (text: String, why: String)) {
        do {
            let parsed = try DurationArgument(parsing: refusal.text)
            Issue.record("\(refusal.text.debugDescription) parsed as \(parsed)")
        } catch {
            #expect(error.message.contains(refusal.why), "\(refusal.text.debugDescription): \(error.message)")
            #expect(error.message.hasSuffix(DurationArgument.acceptedForms), "\(error.message)")
        }
    }

    /// Every duration option of the command, through the built binary: each accepts the forms, and a refusal names
    /// the option and the accepted forms.
    @Test func everyDurationOptionTakesTheSameForms() async throws {
        let cli = try CLIHarness()
        let run = ["run", "--circuit", "d"] + cli.db
        let options: [[String]] = [
            ["--open-for", "1h30m"], ["--probe-timeout", "1.5s"], ["--timeout", "1w"], ["--kill-after", "500ms"],
            ["--slow-call", "2d"], ["--failure-rate", "0.5", "--rate-window", "90s"], ["--backoff-max", "1d12h"],
        ]
        for option in options {
            let result = try await cli.run(run + option + ["--", "true"])
            #expect(result.status == 0, "\(option): \(result)")
            var bad = option
            bad[bad.count - 1] = "90"
            let refused = try await cli.run(run + bad + ["--", "true"])
            expectUsageError(refused, saying: "'\(bad[bad.count - 2])")
            #expect(refused.stderr.contains("needs a unit"), "\(refused)")
            #expect(refused.stderr.contains("500ms, 90s, 1.5s, 1h30m, 2d, 1w"), "\(refused)")
        }
        for (arguments, option) in [
            (["trip", "d", "--for", "90"], "--for"), (["prune", "--idle", "90"], "--idle"),
            (["list", "--watch", "--interval", "90"], "--interval"),
        ] {
            expectUsageError(try await cli.run(arguments + cli.db), saying: option)
        }

        // Printed in the same forms.
        let tripped = try await cli.run(["trip", "d", "--for", "36h"] + cli.db)
        #expect(tripped.status == 0, "\(tripped)")
        #expect(tripped.stdout.hasSuffix(" (for 1d12h)\n"), "\(tripped)")
        let pruned = try await cli.run(["prune", "--idle", "720h"] + cli.db)
        #expect(pruned.stderr == "circuitry: pruned 0 circuit(s) idle for 4w2d\n", "\(pruned)")
        let timedOut = try await cli.run(
            ["run", "--circuit", "t", "--timeout", "0.2s"] + cli.db + ["--", "sleep", "30"])
        #expect(timedOut.status == 124, "\(timedOut)")
        #expect(timedOut.stderr.contains("ran longer than 200ms"), "\(timedOut)")
    }
}
