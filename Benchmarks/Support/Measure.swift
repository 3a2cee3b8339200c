import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`).
package func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Wall-clock milliseconds since 1970, as Circuitry stores time.
package func wallMilliseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
}

/// The median of `values` (the mean of the two middle ones for an even count).
package func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// The nearest-rank percentile `q` (0…1) of sorted values.
package func percentile(_ sorted: [UInt64], _ q: Double) -> UInt64 {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((q * Double(sorted.count)).rounded(.up))
    return sorted[min(sorted.count - 1, max(0, rank - 1))]
}

/// One benchmark case that runs `iterations` operations and returns nothing; the caller times it.
package struct TimedCase: Sendable {
    package var name: String
    package var run: @Sendable (_ iterations: Int) async throws -> Void

    package init(name: String, run: @escaping @Sendable (_ iterations: Int) async throws -> Void) {
        self.name = name
        self.run = run
    }
}

/// Times cases side by side: each round runs every case once, so that the machine's noise falls on all of them
/// alike; the result of a case is the median of its rounds, in nanoseconds per operation.
package struct RoundRobin {
    package var cases: [TimedCase]
    /// How long one sample of one case should take.
    package var sampleNanoseconds: UInt64
    package var rounds: Int

    package init(cases: [TimedCase], sampleNanoseconds: UInt64, rounds: Int) {
        self.cases = cases
        self.sampleNanoseconds = sampleNanoseconds
        self.rounds = rounds
    }

    package func run() async throws -> [String: [Double]] {
        // Warm-up and calibration: find how many operations fill a sample.
        var iterations: [String: Int] = [:]
        for timed in cases {
            var count = 64
            while true {
                let start = monotonicNanoseconds()
                try await timed.run(count)
                let elapsed = monotonicNanoseconds() - start
                if elapsed >= sampleNanoseconds / 4 || count >= 1 << 24 {
                    let perOperation = Double(elapsed) / Double(count)
                    iterations[timed.name] = max(16, Int(Double(sampleNanoseconds) / perOperation))
                    break
                }
                count *= 4
            }
        }
        var samples: [String: [Double]] = [:]
        for _ in 0..<rounds {
            for timed in cases {
                let count = iterations[timed.name]!
                let start = monotonicNanoseconds()
                try await timed.run(count)
                let elapsed = monotonicNanoseconds() - start
                samples[timed.name, default: []].append(Double(elapsed) / Double(count))
            }
        }
        return samples
    }
}

/// Peak and current resident set size of this process, in KiB (`VmHWM` and `VmRSS` of `/proc/self/status`).
package func residentSetKiB() -> (peak: Int, current: Int) {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
        var peak = 0
        var current = 0
        for line in status.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let value = Int(fields[1]) else { continue }
            if fields[0] == "VmHWM:" { peak = value }
            if fields[0] == "VmRSS:" { current = value }
        }
        return (peak, current)
    }
    #endif
    var usage = rusage()
    #if canImport(Darwin)
    getrusage(RUSAGE_SELF, &usage)
    let peak = Int(usage.ru_maxrss) / 1024
    #else
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let peak = Int(usage.ru_maxrss)
    #endif
    return (peak, peak)
}

/// The size of a file in bytes, 0 if it does not exist.
package func fileSize(_ path: String) -> Int64 {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return Int64(info.st_size)
}

/// A small, fast generator for choosing which calls fail and which circuit to call (not for anything secret).
package struct SplitMix: RandomNumberGenerator {
    package var state: UInt64

    package init(state: UInt64) {
        self.state = state
    }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
