import CircuitryBenchmarkSupport

/// The command line of `circuitry-bench`, parsed by hand (a handful of `--name value` flags).
struct Options: Sendable {
    /// Where the JSON file with every figure goes.
    var jsonPath = "bench-results.json"
    /// Rounds of the side-by-side single-process cases; each case's figure is the median of its rounds.
    var rounds = 7
    /// How long one sample of one single-process case runs, in milliseconds.
    var sampleMilliseconds = 100
    /// How long each run of the 1/2/4/8-process scaling runs, in seconds; and how many runs per process count.
    var scalingSeconds = 1.5
    var scalingRuns = 3
    /// How long the 4-process latency run lasts, in seconds.
    var latencySeconds = 5.0
    /// How long the saturated 4-process WAL run lasts, in seconds.
    var walSeconds = 30.0
    /// Circuits in the large file, and circuits used by the memory worker.
    var manyCircuits = 100_000
    var memoryCircuits = 10_000
    /// Keep the temporary folder (database and samples) instead of removing it.
    var keep = false

    /// Runs one single-process case alone for `--seconds`, for a profiler, instead of the benchmark.
    var profile: String?
    /// With `--profile`: run exactly this many operations instead of `--seconds`.
    var operations: Int?

    // Set in worker processes only.
    var worker: String?
    var database = ""
    var seconds = 1.0
    var failPercent = 0
    var samplesPath = ""
    var circuits = 0

    static let usage = """
        usage: circuitry-bench [--json PATH] [--rounds N] [--sample-ms N] [--scaling-seconds S] [--scaling-runs N]
                               [--latency-seconds S] [--wal-seconds S] [--many-circuits N] [--memory-circuits N]
                               [--keep] [--profile CASE [--seconds S | --operations N]]
        Measures Circuitry against the raw SQLite floor on one temporary database; prints a table and writes
        every figure to the JSON file (default bench-results.json). Build it in release mode: `make bench`.
        --profile CASE runs one single-process case (e.g. sqlite.execute_failure_ns) alone for a profiler, for
        --seconds S or exactly --operations N (Benchmarks/instructions.sh counts instructions per operation).
        """

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var arguments = Arguments(arguments)
        while let flag = arguments.next() {
            switch flag {
            case "--json": options.jsonPath = try arguments.value(flag)
            case "--rounds": options.rounds = max(1, try arguments.number(flag))
            case "--sample-ms": options.sampleMilliseconds = max(1, try arguments.number(flag))
            case "--scaling-seconds": options.scalingSeconds = try arguments.number(flag)
            case "--scaling-runs": options.scalingRuns = max(1, try arguments.number(flag))
            case "--latency-seconds": options.latencySeconds = try arguments.number(flag)
            case "--wal-seconds": options.walSeconds = try arguments.number(flag)
            case "--many-circuits": options.manyCircuits = max(10, try arguments.number(flag))
            case "--memory-circuits": options.memoryCircuits = max(1, try arguments.number(flag))
            case "--keep": options.keep = true
            case "--profile": options.profile = try arguments.value(flag)
            case "--operations": options.operations = max(0, try arguments.number(flag))
            case "--worker": options.worker = try arguments.value(flag)
            case "--db": options.database = try arguments.value(flag)
            case "--seconds": options.seconds = try arguments.number(flag)
            case "--fail-percent": options.failPercent = try arguments.number(flag)
            case "--samples": options.samplesPath = try arguments.value(flag)
            case "--circuits": options.circuits = try arguments.number(flag)
            case "-h", "--help": throw BenchmarkFailure(description: usage)
            default: throw BenchmarkFailure(description: "unknown argument \(flag)\n\(usage)")
            }
        }
        return options
    }
}
