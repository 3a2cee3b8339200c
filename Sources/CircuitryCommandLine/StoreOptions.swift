import ArgumentParser
import Circuitry
import CircuitryStores
import Foundation
import Logging

/// `--db PATH|URL`, shared by every subcommand and by the programs that open a store from their options (the demo,
/// the cross-process tests' worker); `CIRCUITRY_DB` is the default. What the value names is
/// ``CircuitryStores/StoreLocation``'s to decide.
package struct StoreOptions: ParsableArguments {
    /// The environment variable that names the database when `--db` is not given.
    package static let environmentVariable = "CIRCUITRY_DB"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The shared SQLite database file, or a server URL: \(StoreLocation.knownSchemes) "
                + "(default: $\(StoreOptions.environmentVariable)).",
            valueName: "path|url"),
        completion: .file())
    package var db: String?

    package init() {}

    /// The database `--db` (or `CIRCUITRY_DB`) names. A malformed URL, or one of a store this build lacks, is a usage
    /// error that names where it came from; its message never contains a password.
    package var location: StoreLocation {
        get throws(ValidationError) {
            let text = try Self.resolve(db, environment: ProcessInfo.processInfo.environment)
            do {
                return try StoreLocation(text)
            } catch {
                throw ValidationError("\(db == nil ? Self.environmentVariable : "--db"): \(error.message)")
            }
        }
    }

    /// The database for messages: the path, or the URL without its password.
    package var displayLocation: String {
        get throws(ValidationError) { try location.description }
    }

    package func validate() throws {
        _ = try location
    }

    /// `--db` if given, else `CIRCUITRY_DB`; a usage error if neither names a path.
    package static func resolve(_ option: String?, environment: [String: String]) throws(ValidationError) -> String {
        if let option {
            guard !option.isEmpty else { throw ValidationError("--db needs a path; it is empty") }
            return option
        }
        guard let fromEnvironment = environment[environmentVariable], !fromEnvironment.isEmpty else {
            throw ValidationError("no database: pass --db PATH or set \(environmentVariable)")
        }
        return fromEnvironment
    }

    /// Runs `body` with a factory over the store, for commands that operate circuits by name.
    ///
    /// A server store's connection pool runs while `body` does, and is shut down before this returns or throws, so
    /// that the process exits as soon as the command is done. The server is reached (and the tables checked or
    /// created) before `body` runs: an unreachable server is a ``CircuitStoreError`` from here. With `mustExist`, a
    /// store that does not exist yet (a SQLite file, PostgreSQL tables, a DynamoDB table) is an error
    /// (``CircuitStoreError/Code/missing``) instead of a new, empty store: a mistyped path would otherwise be hidden
    /// behind an empty answer, or be created.
    package func withFactory<Value: Sendable>(
        mustExist: Bool, settings: BreakerSettings = BreakerSettings(), logger: Logger,
        _ body: (BreakerFactory) async throws -> Value
    ) async throws -> Value {
        try await withStore(mustExist: mustExist, settings: settings, logger: logger) { try await body($1) }
    }

    /// ``withFactory(mustExist:settings:logger:_:)``, with the store too: for a read of a stored record as it is,
    /// before the breaker's rules evaluate it.
    package func withStore<Value: Sendable>(
        mustExist: Bool, settings: BreakerSettings = BreakerSettings(), logger: Logger,
        _ body: (any CircuitStore, BreakerFactory) async throws -> Value
    ) async throws -> Value {
        var configuration = BreakerFactory.Configuration(settings: settings)
        // A short-lived process: write each success at once rather than batching it.
        configuration.maximumBatchedSuccesses = 1
        configuration.actor = "circuitry " + configuration.actor
        return try await location.withStore(StoreLocation.Options(mustExist: mustExist), logger: logger) { store in
            try await body(store, BreakerFactory(store: store, configuration: configuration, logger: logger))
        }
    }
}

/// Validates a circuit name given on the command line: a usage error if the library would refuse it.
package func validateCircuitName(_ name: String) throws(ValidationError) {
    do {
        try CircuitName.validate(name)
    } catch {
        throw ValidationError(error.message)
    }
}
