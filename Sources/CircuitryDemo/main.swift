import Circuitry
import CircuitryDemoKit
import Foundation
import Logging

/// `make demo`: the breakers in one SQLite file beside the queue.
enum SQLiteDemo: DemoBackend {
    static let commandName = "circuitry-demo"
    static let summary = "one SQLite file"

    static func location(in folder: URL) -> String {
        folder.appendingPathComponent("breakers.sqlite").path
    }

    static func describe(_ location: String) -> String {
        "SQLiteCircuitStore, \(location)"
    }

    static func withStore<Value: Sendable>(
        _ location: String, logger: Logger, _ body: (any CircuitStore) async throws -> Value
    ) async throws -> Value {
        let store = try SQLiteCircuitStore(path: location)
        defer { store.close() }
        return try await body(store)
    }

    static func operatorCommands(_ location: String) -> [OperatorCommand] {
        OperatorQueries.all(circuitStatus: "circuit_status", transitionLog: "transition_log").map { query in
            OperatorCommand(
                shown: "sqlite3 -header -column \(location) '\(query)'", executable: "sqlite3",
                arguments: ["-header", "-column", location, query],
                whenMissing: "(sqlite3 is not installed here: apt-get install sqlite3)")
        }
    }
}

await DemoCommand<SQLiteDemo>.runFromCommandLine()
