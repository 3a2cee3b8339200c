import Foundation

/// pybreaker's figure from the last `make bench-redis`, printed beside Circuitry's 4-process row.
enum PybreakerFigure {
    /// The file `make bench-redis` writes in the package's folder, where `make bench` runs too.
    static let path = "bench-results-redis.json"
    /// The figure of pybreaker 1.4 with `CircuitRedisStorage`, 4 processes calling one healthy circuit.
    static let key = "healthy.4.pybreaker.calls_per_second"

    /// Calls per second of pybreaker + Redis with 4 processes, and when that run ended (the file's modification
    /// time); `nil` when `make bench-redis` has not run here or its file has no such figure.
    static func fourProcesses() -> (callsPerSecond: Double, measuredAt: Date)? {
        guard let data = FileManager.default.contents(atPath: path),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let figures = json["figures"] as? [String: Any], let value = figures[key] as? Double, value > 0,
            let modified = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
        else { return nil }
        return (value, modified)
    }
}
