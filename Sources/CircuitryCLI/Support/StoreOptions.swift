import ArgumentParser
import Circuitry
import Foundation
import Logging

/// `--db PATH`, shared by every subcommand; `CIRCUITRY_DB` is the default.
struct StoreOptions: ParsableArguments {
    /// The environment variable that names the database when `--db` is not given.
    static let environmentVariable = "CIRCUITRY_DB"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The shared SQLite database (default: $\(StoreOptions.environmentVariable)).", valueName: "path"))
    var db: String?

    /// The database path: `--db`, else `CIRCUITRY_DB`.
    var path: String {
        get throws(ValidationError) { try Self.resolve(db, environment: ProcessInfo.processInfo.environment) }
    }

    func validate() throws {
        _ = try path
    }

    /// `--db` if given, else `CIRCUITRY_DB`; a usage error if neither names a path.
    static func resolve(_ option: String?, environment: [String: String]) throws(ValidationError) -> String {
        if let option {
            guard !option.isEmpty else { throw ValidationError("--db needs a path; it is empty") }
            return option
        }
        guard let fromEnvironment = environment[environmentVariable], !fromEnvironment.isEmpty else {
            throw ValidationError("no database: pass --db PATH or set \(environmentVariable)")
        }
        return fromEnvironment
    }

    /// Opens the store. With `mustExist`, a missing file is an error instead of a new, empty database: a command
    /// that only reads would otherwise hide a mistyped path behind an empty answer.
    func openStore(mustExist: Bool) throws -> SQLiteCircuitStore {
        let path = try self.path
        if mustExist, !FileManager.default.fileExists(atPath: path) {
            throw CircuitStoreError(code: .cannotOpen, message: "there is no database file", location: path)
        }
        do {
            return try SQLiteCircuitStore(path: path)
        } catch let error as CircuitStoreError {
            throw error
        } catch {
            // Only ConfigurationError is left, and the default configuration is in range.
            throw CircuitStoreError(code: .other, message: "\(error)", location: path)
        }
    }

    /// A factory over the store, for commands that operate circuits by name.
    func openFactory(mustExist: Bool, settings: BreakerSettings = BreakerSettings()) throws -> BreakerFactory {
        let store = try openStore(mustExist: mustExist)
        var configuration = BreakerFactory.Configuration(settings: settings)
        // A short-lived process: write each success at once rather than batching it.
        configuration.maximumBatchedSuccesses = 1
        configuration.actor = "circuitry " + configuration.actor
        return try BreakerFactory(store: store, configuration: configuration, logger: Self.logger)
    }

    /// The library logs at info and below; the command reports failures itself, so only warnings get through.
    static var logger: Logger {
        var logger = Logger(label: "circuitry")
        logger.logLevel = .warning
        return logger
    }
}

/// Validates a circuit name given on the command line: a usage error if the library would refuse it.
func validateCircuitName(_ name: String) throws(ValidationError) {
    do {
        try CircuitName.validate(name)
    } catch {
        throw ValidationError(error.message)
    }
}
