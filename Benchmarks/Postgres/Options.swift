#if Postgres

import CircuitryBenchmarkSupport
import Foundation

/// The command line of `circuitry-bench-postgres`, parsed by hand (a handful of `--name value` flags).
struct Options: Sendable {
    /// The server: `--postgres URL`, else `CIRCUITRY_POSTGRES_URL`; without one the PostgreSQL rows are left out.
    var url = ProcessInfo.processInfo.environment["CIRCUITRY_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    /// Where the JSON file with every figure goes.
    var jsonPath = "bench-results-postgres.json"
    /// Rounds of the side-by-side single-process cases; each case's figure is the median of its rounds.
    var rounds = 7
    /// How long one sample of one single-process case runs, in milliseconds.
    var sampleMilliseconds = 100
    /// How long each run of the 1/2/4/8-process scaling runs, in seconds; and how many runs per process count.
    var scalingSeconds = 1.5
    var scalingRuns = 3

    // Set in worker processes only.
    var worker: String?
    var database = ""
    var schema = ""
    var seconds = 1.0
    var samplesPath = ""

    static let usage = """
        usage: circuitry-bench-postgres [--postgres URL] [--json PATH] [--rounds N] [--sample-ms N]
                                        [--scaling-seconds S] [--scaling-runs N]
        Measures Circuitry on PostgreSQL against the raw PostgreSQL floors, beside Circuitry on SQLite, in one run;
        prints a table and writes every figure to the JSON file (default bench-results-postgres.json). The server
        comes from --postgres or CIRCUITRY_POSTGRES_URL; `make bench-postgres` builds it in release mode and starts
        a throw-away PostgreSQL 15 for it.
        """

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var arguments = Arguments(arguments)
        while let flag = arguments.next() {
            switch flag {
            case "--postgres": options.url = try arguments.value(flag)
            case "--json": options.jsonPath = try arguments.value(flag)
            case "--rounds": options.rounds = max(1, try arguments.number(flag))
            case "--sample-ms": options.sampleMilliseconds = max(1, try arguments.number(flag))
            case "--scaling-seconds": options.scalingSeconds = try arguments.number(flag)
            case "--scaling-runs": options.scalingRuns = max(1, try arguments.number(flag))
            case "--worker": options.worker = try arguments.value(flag)
            case "--db": options.database = try arguments.value(flag)
            case "--schema": options.schema = try arguments.value(flag)
            case "--seconds": options.seconds = try arguments.number(flag)
            case "--samples": options.samplesPath = try arguments.value(flag)
            case "-h", "--help": throw BenchmarkFailure(description: usage)
            default: throw BenchmarkFailure(description: "unknown argument \(flag)\n\(usage)")
            }
        }
        return options
    }
}

#endif
