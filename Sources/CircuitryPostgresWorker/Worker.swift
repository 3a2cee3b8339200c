import Circuitry
import CircuitryPostgres
import Foundation
import Logging

/// One worker process of the PostgreSQL store's cross-process tests.
///
/// `CircuitryPostgresWorker <url> <circuit> <calls> <failureThreshold>` opens the store, prints `ready`, waits for a
/// line on standard input (so that all workers start at once), then makes up to `<calls>` failing calls through a
/// breaker, stopping at the first rejection. It prints `ran=<calls whose work ran> rejected=<0|1> errors=<store
/// errors> open=<whether the circuit was open right after>` and exits.
@main
struct Worker {
    struct Failure: Error {}

    static func main() async {
        let arguments = CommandLine.arguments
        guard arguments.count == 5, let calls = Int(arguments[3]), let threshold = Int(arguments[4]) else {
            FileHandle.standardError.write(Data("usage: CircuitryPostgresWorker url circuit calls threshold\n".utf8))
            exit(64)
        }
        let logger = Logger(label: "circuitry.worker", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            let summary = try await PostgresCircuitStore.withStore(
                configuration: try .init(url: arguments[1]), logger: logger
            ) { store in
                var configuration = BreakerFactory.Configuration(
                    settings: BreakerSettings(failureThreshold: threshold, openDuration: .seconds(600)))
                configuration.maximumBatchedSuccesses = 1
                let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)
                let breaker = try breakers.breaker(for: arguments[2])
                FileHandle.standardOutput.write(Data("ready\n".utf8))
                _ = readLine()
                var (ran, rejected, errors) = (0, 0, 0)
                for _ in 0..<calls {
                    do {
                        _ = try await breaker.execute { () async throws -> Int in throw Failure() }
                    } catch is Failure {
                        ran += 1
                    } catch is CircuitRejected {
                        rejected += 1
                        break
                    } catch {
                        errors += 1
                        FileHandle.standardError.write(Data("store error: \(error)\n".utf8))
                    }
                }
                let open = try await breaker.state() == .open
                return "ran=\(ran) rejected=\(rejected) errors=\(errors) open=\(open)"
            }
            FileHandle.standardOutput.write(Data((summary + "\n").utf8))
        } catch {
            FileHandle.standardError.write(Data("worker failed: \(error)\n".utf8))
            exit(1)
        }
    }
}
