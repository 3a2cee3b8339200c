#if Dashboard
import CircuitryCLITestSupport
import Foundation
import Testing

/// `GET /metrics`, read by a parser of the Prometheus text format (version 0.0.4).
@Suite("serve: Prometheus metrics")
struct MetricsTests {
    /// One sample: a metric name, its labels, its value.
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// Parses the text format: `# HELP` and `# TYPE` lines, then `name{label="value",…} number` lines. Fails the
    /// test on any line it cannot read, on a sample whose metric has no TYPE, and on a repeated series.
    static func parse(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [Sample] {
        var types: [String: String] = [:]
        var samples: [Sample] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 4, "\(line)", sourceLocation: sourceLocation)
                #expect(["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])))
                types[String(parts[2])] = String(parts[3])
                continue
            }
            guard let match = line.wholeMatch(of: #/([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)/#),
                let value = Double(match.3)
            else {
                Issue.record("not a sample: \(line)", sourceLocation: sourceLocation)
                continue
            }
            var labels: [String: String] = [:]
            var rest = Substring(match.2 ?? "")
            while !rest.isEmpty {
                guard let label = rest.prefixMatch(of: #/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/#) else {
                    Issue.record("bad labels: \(line)", sourceLocation: sourceLocation)
                    break
                }
                labels[String(label.1)] = String(label.2).replacing("\\\"", with: "\"").replacing("\\n", with: "\n")
                    .replacing("\\\\", with: "\\")
                rest = rest[label.range.upperBound...]
            }
            let sample = Sample(name: String(match.1), labels: labels, value: value)
            #expect(types[sample.name] != nil, "no TYPE for \(sample.name)", sourceLocation: sourceLocation)
            #expect(
                !samples.contains { $0.name == sample.name && $0.labels == sample.labels }, "repeated: \(line)",
                sourceLocation: sourceLocation)
            samples.append(sample)
        }
        return samples
    }

    private func scrape(_ served: ServedDashboard) async throws -> [Sample] {
        let response = try await served.request("GET", "/metrics")
        #expect(response.status == 200, "\(response)")
        #expect(response.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        return Self.parse(response.body)
    }

    @Test("per-state counts, per-circuit state for the first N circuits, transitions counted as they commit")
    func boundedMetrics() async throws {
        let harness = try CLIHarness()
        try await harness.create("a", "b", "c\"quoted\\")
        #expect(try await harness.run(["trip", "b"] + harness.db).status == 0)
        let served = try await ServedDashboard(harness, arguments: ["--metrics-circuits", "2"])

        var samples = try await scrape(served)
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(value("circuitry_circuits", ["state": "open"]) == 1)
        #expect(value("circuitry_circuits", ["state": "closed"]) == 2)
        #expect(value("circuitry_circuits", ["state": "half-open"]) == 0)
        let perCircuit = samples.filter { $0.name == "circuitry_circuit_state" }
        #expect(perCircuit.map { $0.labels["circuit"] ?? "" }.sorted() == ["a", "b"])
        #expect(value("circuitry_circuit_state", ["circuit": "b"]) == 2)
        #expect(value("circuitry_circuits_not_listed") == 1)
        #expect(value("circuitry_transitions_total", ["to_state": "open"]) == 0, "counted from the server's start")

        // Another process trips a circuit: the counter counts it (within the server's poll).
        #expect(try await harness.run(["trip", "a"] + harness.db).status == 0)
        let counted = try await harness.eventually {
            samples = try await scrape(served)
            return value("circuitry_transitions_total", ["to_state": "open"]) == 1
        }
        #expect(counted, "\(samples)")
        #expect(value("circuitry_circuits", ["state": "open"]) == 2)
        try await served.stop()

        // All of them, with a name that needs escaping; none with 0.
        let all = try await ServedDashboard(harness, arguments: ["--metrics-circuits", "10"])
        samples = try await scrape(all)
        #expect(value("circuitry_circuit_state", ["circuit": "c\"quoted\\"]) == 0)
        #expect(value("circuitry_circuits_not_listed") == 0)
        try await all.stop()
        let none = try await ServedDashboard(harness, arguments: ["--metrics-circuits", "0"])
        samples = try await scrape(none)
        #expect(!samples.contains { $0.name == "circuitry_circuit_state" })
        #expect(value("circuitry_circuits_not_listed") == 3)
        try await none.stop()
    }
}
#endif
