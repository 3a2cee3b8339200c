import ArgumentParser
import Circuitry
import CircuitryCommandLine
import CircuitryStores
import Foundation

/// `circuitry init`.
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create an empty database (a SQLite file, or Circuitry's tables on a server) and say where.",
        discussion: """
            Besides run, which creates the database on its first call, init is the only subcommand that creates \
            one: the others refuse a database that does not exist, so that a mistyped path is never taken for an \
            empty database. A database that exists and is Circuitry's is left as it is (exit 0); anything else at \
            the path is refused and left untouched (exit 74). A DynamoDB table is created only with \
            create_table=true in the URL.
            """
    )

    @OptionGroup var store: StoreOptions

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await reportingErrors {
            let location = try store.location
            guard case .sqlite(let path) = location.kind else {
                // A server: its tables are checked, and created if the database has none.
                let count = try await store.withFactory(mustExist: false, logger: logging.logger) {
                    try await $0.snapshots().count
                }
                Console.out("\(location): Circuitry's tables are ready, with \(count) circuit(s)")
                return
            }
            let shown = URL(fileURLWithPath: path).standardizedFileURL.path
            // An empty file is an empty database to SQLite: init makes it Circuitry's.
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
            let existed = (size ?? 0) > 0
            let count = try await store.withFactory(mustExist: false, logger: logging.logger) {
                try await $0.snapshots().count
            }
            if existed {
                Console.out("\(shown): a Circuitry database already, with \(count) circuit(s); left as it is")
            } else {
                Console.out("\(shown): created an empty Circuitry database")
            }
        }
    }
}
