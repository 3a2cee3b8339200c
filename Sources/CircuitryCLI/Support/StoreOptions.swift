import ArgumentParser
import Circuitry
import CircuitryPostgres
import Foundation
import Logging

/// `--db PATH|URL`, shared by every subcommand; `CIRCUITRY_DB` is the default.
struct StoreOptions: ParsableArguments {
    /// The environment variable that names the database when `--db` is not given.
    static let environmentVariable = "CIRCUITRY_DB"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The shared SQLite database file, or a PostgreSQL server as a postgres:// or postgresql:// URL "
                + "(default: $\(StoreOptions.environmentVariable)).",
            valueName: "path|url"))
    var db: String?

    /// Where the circuits are: a SQLite file, or a PostgreSQL server.
    enum Location {
        case sqlite(path: String)
        case postgres(PostgresCircuitStore.Configuration)
    }

    /// The database path or URL: `--db`, else `CIRCUITRY_DB`.
    var path: String {
        get throws(ValidationError) { try Self.resolve(db, environment: ProcessInfo.processInfo.environment) }
    }

    /// The database `--db` (or `CIRCUITRY_DB`) names: a `postgres://` or `postgresql://` URL is a PostgreSQL
    /// server, anything else a SQLite file.
    var location: Location {
        get throws(ValidationError) {
            try Self.location(of: path, from: db == nil ? Self.environmentVariable : "--db")
        }
    }

    /// The database for messages: the path, or the URL without its password (and a path without what could be
    /// one, should it be a mistyped URL).
    var displayLocation: String {
        get throws(ValidationError) {
            switch try location {
            case .sqlite(let path): PasswordRedaction.redacting(path)
            case .postgres(let configuration): configuration.location
            }
        }
    }

    func validate() throws {
        _ = try location
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

    /// A PostgreSQL URL if `path` starts with `postgres://` or `postgresql://` (in any case), else a SQLite path.
    /// A malformed URL is a usage error that names `source` (`--db` or `CIRCUITRY_DB`); its message never contains
    /// the password.
    static func location(of path: String, from source: String = "--db") throws(ValidationError) -> Location {
        guard PostgresCircuitStore.Configuration.isURL(path) else {
            return .sqlite(path: path)
        }
        do {
            return .postgres(try PostgresCircuitStore.Configuration(url: path))
        } catch {
            throw ValidationError("\(source): \(error.message)")
        }
    }

    /// Opens the SQLite store. With `mustExist`, a missing file is an error instead of a new, empty database: a
    /// command that only reads would otherwise hide a mistyped path behind an empty answer.
    func openSQLiteStore(path: String, mustExist: Bool) throws -> SQLiteCircuitStore {
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

    /// Runs `body` with a factory over the store, for commands that operate circuits by name.
    ///
    /// For a PostgreSQL server, the store's connection pool runs while `body` does, and is shut down before this
    /// returns or throws, so that the process exits as soon as the command is done. The server is reached (and the
    /// tables checked or created) before `body` runs: an unreachable server is a ``CircuitStoreError`` from here.
    /// `mustExist` only concerns SQLite files; a server has no file to mistype.
    func withFactory<Value: Sendable>(
        mustExist: Bool, settings: BreakerSettings = BreakerSettings(),
        _ body: (BreakerFactory) async throws -> Value
    ) async throws -> Value {
        var configuration = BreakerFactory.Configuration(settings: settings)
        // A short-lived process: write each success at once rather than batching it.
        configuration.maximumBatchedSuccesses = 1
        configuration.actor = "circuitry " + configuration.actor
        switch try location {
        case .sqlite(let path):
            let store = try openSQLiteStore(path: path, mustExist: mustExist)
            return try await body(BreakerFactory(store: store, configuration: configuration, logger: Self.logger))
        case .postgres(let postgres):
            return try await PostgresCircuitStore.withStore(configuration: postgres, logger: Self.logger) { store in
                try await body(BreakerFactory(store: store, configuration: configuration, logger: Self.logger))
            }
        }
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
