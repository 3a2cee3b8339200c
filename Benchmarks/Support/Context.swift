import Foundation

/// The command line of a benchmark, read flag by flag (a handful of `--name value` flags, parsed by hand).
package struct Arguments {
    private var remaining: ArraySlice<String>

    package init(_ arguments: [String]) {
        remaining = arguments[...]
    }

    /// The next flag, or `nil` at the end.
    package mutating func next() -> String? {
        remaining.popFirst()
    }

    /// The value that follows `flag`.
    package mutating func value(_ flag: String) throws -> String {
        guard let next = remaining.popFirst() else { throw BenchmarkFailure(description: "\(flag) needs a value") }
        return next
    }

    /// The number that follows `flag`.
    package mutating func number<T: LosslessStringConvertible>(_ flag: String) throws -> T {
        let text = try value(flag)
        guard let parsed = T(text) else { throw BenchmarkFailure(description: "\(flag): not a number: \(text)") }
        return parsed
    }
}

/// The load average line of `/proc/loadavg`, or an empty string where there is none.
package func loadAverage() -> String {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The machine a run ran on, for the JSON file: cores, memory, OS, CPU model and the load average now.
package func machineDescription() -> [String: Any] {
    var info: [String: Any] = [
        "cores": ProcessInfo.processInfo.activeProcessorCount,
        "memory_bytes": ProcessInfo.processInfo.physicalMemory,
        "os": ProcessInfo.processInfo.operatingSystemVersionString,
    ]
    if let cpu = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let model = cpu.split(separator: "\n").first(where: { $0.hasPrefix("model name") })
    {
        info["cpu"] = model.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
    }
    let load = loadAverage()
    if !load.isEmpty { info["load_average_at_end"] = load }
    return info
}
