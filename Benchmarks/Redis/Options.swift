#if Redis

import CircuitryBenchmarkSupport
import Foundation

/// The command line of `circuitry-bench-redis`, parsed by hand (a handful of `--name value` flags).
struct Options: Sendable {
    /// The server: `--redis URL`, else `CIRCUITRY_REDIS_URL`.
    var url = ProcessInfo.processInfo.environment["CIRCUITRY_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    /// The Python with pybreaker 1.4 and redis installed (`make bench-redis` makes a virtual environment).
    var python = ProcessInfo.processInfo.environment["CIRCUITRY_PYBREAKER_PYTHON"] ?? "python3"
    /// The pybreaker worker script.
    var pybreakerWorker = "Benchmarks/Redis/pybreaker/worker.py"
    /// Where the JSON file with every figure goes.
    var jsonPath = "bench-results-redis.json"
    /// How long each run of each case lasts, in seconds, and how many runs per case and process count.
    var seconds = 2.0
    var runs = 3

    // Set in worker processes only.
    var worker: String?
    var workerCase = ""
    var prefix = ""
    var samplesPath = ""
    var resetMilliseconds = 1000

    static let usage = """
        usage: circuitry-bench-redis [--redis URL] [--python PATH] [--pybreaker-worker PATH] [--json PATH]
                                     [--seconds S] [--runs N]
        Measures Circuitry's Redis store beside pybreaker 1.4's CircuitRedisStorage and a raw GET + SET floor, all on
        the same server in the same run: no-op successful calls through one shared breaker from 1, 2, 4 and 8
        processes, failing calls, rejections while open, and how many trial calls a half-open circuit lets through
        from 8 processes. Prints a table and writes every figure to the JSON file (default bench-results-redis.json).
        `make bench-redis` builds it in release mode, installs pybreaker into a throw-away virtual environment and
        starts a throw-away redis-server for it.
        """

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var arguments = Arguments(arguments)
        while let flag = arguments.next() {
            switch flag {
            case "--redis": options.url = try arguments.value(flag)
            case "--python": options.python = try arguments.value(flag)
            case "--pybreaker-worker": options.pybreakerWorker = try arguments.value(flag)
            case "--json": options.jsonPath = try arguments.value(flag)
            case "--seconds": options.seconds = try arguments.number(flag)
            case "--runs": options.runs = max(1, try arguments.number(flag))
            case "--worker": options.worker = try arguments.value(flag)
            case "--case": options.workerCase = try arguments.value(flag)
            case "--prefix": options.prefix = try arguments.value(flag)
            case "--samples": options.samplesPath = try arguments.value(flag)
            case "--reset-ms": options.resetMilliseconds = try arguments.number(flag)
            case "-h", "--help": throw BenchmarkFailure(description: usage)
            default: throw BenchmarkFailure(description: "unknown argument \(flag)\n\(usage)")
            }
        }
        return options
    }
}

#endif
