import Circuitry
import CircuitryPostgres
import CircuitryPostgresTestSupport
import Foundation
import Testing

/// Several worker processes connecting over TCP to the same tables (DESIGN.md, guarantees 1 and 2).
@Suite(.serialized) struct PostgresCrossProcessTests {
    /// Runs `count` workers on `circuit`, releases them at once, and returns their summaries.
    private func runWorkers(
        _ count: Int, url: String, circuit: String, calls: Int, threshold: Int
    ) throws -> [[String: String]] {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("CircuitryPostgresWorker")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw TestPostgresServer.Failure(
                description: "\(executable.path) is missing: build it with swift build --build-tests")
        }
        var workers: [(Process, Pipe, Pipe)] = []
        for _ in 0..<count {
            let process = Process()
            process.executableURL = executable
            process.arguments = [url, circuit, "\(calls)", "\(threshold)"]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            workers.append((process, input, output))
        }
        defer { for (process, _, _) in workers where process.isRunning { process.terminate() } }
        // Everyone connected and checked the tables: then all start at once.
        for (_, _, output) in workers {
            let ready = readLine(from: output.fileHandleForReading)
            guard ready == "ready" else { throw TestPostgresServer.Failure(description: "worker said \(ready)") }
        }
        for (_, input, _) in workers { input.fileHandleForWriting.write(Data("go\n".utf8)) }
        return try workers.map { process, _, output in
            let line = readLine(from: output.fileHandleForReading)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw TestPostgresServer.Failure(description: "worker exited with \(process.terminationStatus)")
            }
            return Dictionary(
                uniqueKeysWithValues: line.split(separator: " ").map { pair in
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
                })
        }
    }

    private func readLine(from handle: FileHandle) -> String {
        var bytes: [UInt8] = []
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first, first != UInt8(ascii: "\n") else { break }
            bytes.append(first)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func noLostUpdatesAcrossProcesses() async throws {
        let server = try await TestPostgresServer.shared()
        let schema = RunningStores.freshSchema()
        let (processes, calls) = (4, 50)
        let summaries = try runWorkers(
            processes, url: server.url(parameters: "schema=\(schema)"), circuit: "tenant-a", calls: calls,
            threshold: 1_000_000)
        #expect(summaries.map { $0["ran"] } == Array(repeating: "\(calls)", count: processes))
        #expect(summaries.allSatisfy { $0["errors"] == "0" })
        try await withRunningStores { stores in
            let record = try await stores.store(on: server, schema: schema).read("tenant-a").record
            #expect(record?.counts.failures == Int64(processes * calls))
            #expect(record?.counts.consecutiveFailures == Int64(processes * calls))
        }
    }

    @Test func tripAccountingAcrossProcesses() async throws {
        let server = try await TestPostgresServer.shared()
        let schema = RunningStores.freshSchema()
        let (processes, threshold) = (4, 10)
        let summaries = try runWorkers(
            processes, url: server.url(parameters: "schema=\(schema)"), circuit: "tenant-b", calls: 1000,
            threshold: threshold)
        let ran = summaries.compactMap { $0["ran"].flatMap(Int.init) }.reduce(0, +)
        // One call in flight per process at most when the circuit opens.
        #expect(ran >= threshold && ran <= threshold + processes - 1, "\(ran) failing calls ran")
        #expect(summaries.allSatisfy { $0["open"] == "true" && $0["rejected"] == "1" && $0["errors"] == "0" })
        let opened = try server.psql(
            "SELECT count(*) FROM \(schema).transition_log WHERE circuit = 'tenant-b' AND to_state = 'open'")
        #expect(opened == "1")
    }
}
