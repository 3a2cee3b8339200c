import Circuitry
import Foundation
import Logging

#if Postgres
import CircuitryPostgres
#endif
#if Redis
import CircuitryRedis
#endif
#if DynamoDB
import CircuitryDynamoDB
#endif

/// Where a process keeps its circuits, as one string names it: a SQLite file path, or a server URL.
///
/// This is the one place that turns a `--db` option, a `CIRCUITRY_DB` variable or a line of configuration into an
/// open store. The `circuitry` command, the demo, the benchmarks and the cross-process tests all use it, and so can
/// an application that takes its store from its environment:
///
/// ```swift
/// let location = try StoreLocation(ProcessInfo.processInfo.environment["CIRCUITRY_DB"] ?? "breakers.sqlite")
/// try await location.withStore(logger: logger) { store in
///     let breakers = try BreakerFactory(store: store, logger: logger)
///     try await runWorker(breakers)
/// }
/// ```
///
/// A string that starts with a URL scheme (`name://`) is a server; anything else is a SQLite file. The servers a
/// build accepts depend on the package traits it was built with: `postgres://` and `postgresql://` need the
/// `Postgres` trait, `redis://` and `rediss://` the `Redis` trait, `dynamodb://` the `DynamoDB` trait. A URL of a store this build lacks is refused with a message that says how to get it.
public struct StoreLocation: Sendable, CustomStringConvertible {
    /// The kinds of store a location can name.
    public enum Kind: Sendable {
        /// A SQLite file, shared by the processes of one host.
        case sqlite(path: String)
        #if Postgres
        /// A PostgreSQL server.
        case postgres(PostgresCircuitStore.Configuration)
        #endif
        #if Redis
        /// A Redis server.
        case redis(RedisCircuitStore.Configuration)
        #endif
        #if DynamoDB
        /// A DynamoDB table.
        case dynamodb(DynamoDBCircuitStore.Configuration)
        #endif
    }

    /// What the location names.
    public var kind: Kind

    /// Creates a location from its parts.
    public init(_ kind: Kind) {
        self.kind = kind
    }

    /// Reads a location: a server URL, or else a SQLite file path.
    ///
    /// - Throws: ``StoreLocationError`` for an empty string, a URL that does not parse, or a URL of a store this
    ///   build lacks. Its message never contains a password.
    public init(_ text: String) throws(StoreLocationError) {
        guard !text.isEmpty else { throw StoreLocationError("the location is empty: give a file path or a URL") }
        guard let scheme = Self.scheme(of: text) else {
            self.init(.sqlite(path: text))
            return
        }
        switch scheme {
        case "postgres", "postgresql":
            #if Postgres
            do {
                self.init(.postgres(try PostgresCircuitStore.Configuration(url: text)))
            } catch {
                throw StoreLocationError(error.message)
            }
            #else
            throw StoreLocationError.missingTrait("PostgreSQL", trait: "Postgres")
            #endif
        case "redis", "rediss":
            #if Redis
            do {
                self.init(.redis(try RedisCircuitStore.Configuration(url: text)))
            } catch {
                throw StoreLocationError(error.message)
            }
            #else
            throw StoreLocationError.missingTrait("Redis", trait: "Redis")
            #endif
        case "dynamodb":
            #if DynamoDB
            do {
                self.init(.dynamodb(try DynamoDBCircuitStore.Configuration(url: text)))
            } catch {
                throw StoreLocationError(error.message)
            }
            #else
            throw StoreLocationError.missingTrait("DynamoDB", trait: "DynamoDB")
            #endif
        default:
            throw StoreLocationError(
                "\(scheme):// is not a store Circuitry knows; give a SQLite file path or one of \(Self.knownSchemes)")
        }
    }

    /// The location for messages and logs: the URL without its password, or the path (without what could be a
    /// password, should it be a mistyped URL such as `postgres:/alice:secret@db/jobs`).
    public var description: String {
        switch kind {
        case .sqlite(let path): PasswordRedaction.redacting(path)
        #if Postgres
        case .postgres(let configuration): configuration.location
        #endif
        #if Redis
        case .redis(let configuration): configuration.location
        #endif
        #if DynamoDB
        case .dynamodb(let configuration): configuration.location
        #endif
        }
    }

    /// How ``withStore(_:logger:_:)`` opens the store.
    public struct Options: Sendable {
        /// The SQLite store's configuration. Default: the store's defaults.
        public var sqlite: SQLiteCircuitStore.Configuration
        /// Refuse a store that does not exist yet, instead of creating it, with ``CircuitStoreError/Code/missing``
        /// and without writing anything: a SQLite file that does not exist, a PostgreSQL database without
        /// Circuitry's tables, a DynamoDB table that does not exist (even with `create_table=true`). For programs that
        /// only read or operate existing circuits, where a mistyped path, schema or table must not look like an empty
        /// store. Default `false`: a SQLite file and PostgreSQL tables are created, a DynamoDB table only with
        /// `create_table=true`.
        public var mustExist: Bool
        /// The most connections a server store's pool opens; `nil` keeps the URL's or the store's default.
        public var maximumConnections: Int?

        /// Creates options with the defaults.
        public init(
            sqlite: SQLiteCircuitStore.Configuration = SQLiteCircuitStore.Configuration(),
            mustExist: Bool = false, maximumConnections: Int? = nil
        ) {
            self.sqlite = sqlite
            self.mustExist = mustExist
            self.maximumConnections = maximumConnections
        }
    }

    /// Opens the store, hands it to `body`, and closes it when `body` returns or throws.
    ///
    /// A server store's connection pool runs while `body` does, and the server is reached (and its tables checked
    /// or created) before `body` runs, so that an unreachable server fails here, with its cause.
    /// - Throws: ``CircuitStoreError`` when the store cannot be opened, ``ConfigurationError`` for options out of
    ///   range, or whatever `body` throws.
    public func withStore<Value: Sendable>(
        _ options: Options = Options(), logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (any CircuitStore) async throws -> Value
    ) async throws -> Value {
        switch kind {
        case .sqlite(let path):
            if options.mustExist, !FileManager.default.fileExists(atPath: path) {
                // A missing folder is not a missing database: it is reported as the store reports it when creating.
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
                guard FileManager.default.fileExists(atPath: folder) else {
                    throw CircuitStoreError(
                        code: .cannotOpen, message: "the folder \(folder) does not exist", location: path)
                }
                throw CircuitStoreError(code: .missing, message: "there is no database file", location: path)
            }
            let store = try SQLiteCircuitStore(path: path, configuration: options.sqlite)
            defer { store.close() }
            return try await body(store)
        #if Postgres
        case .postgres(var configuration):
            if let maximum = options.maximumConnections { configuration.maximumConnections = maximum }
            if options.mustExist { configuration.createsTables = false }
            return try await PostgresCircuitStore.withStore(
                configuration: configuration, logger: logger, isolation: isolation
            ) { try await body($0) }
        #endif
        #if Redis
        case .redis(var configuration):
            if let maximum = options.maximumConnections { configuration.maximumConnections = maximum }
            if options.mustExist { configuration.createsKeys = false }
            return try await RedisCircuitStore.withStore(
                configuration: configuration, logger: logger, isolation: isolation
            ) { try await body($0) }
        #endif
        #if DynamoDB
        case .dynamodb(var configuration):
            if options.mustExist { configuration.createTableIfMissing = false }
            // Nothing to run or close: requests go through a process-wide HTTP client.
            let store = try DynamoDBCircuitStore(configuration: configuration, logger: logger)
            try await store.prepare()
            return try await body(store)
        #endif
        }
    }

    /// The URL schemes this build accepts, for messages.
    public static var knownSchemes: String {
        var schemes: [String] = []
        #if Postgres
        schemes += ["postgres://", "postgresql://"]
        #endif
        #if Redis
        schemes += ["redis://", "rediss://"]
        #endif
        #if DynamoDB
        schemes += ["dynamodb://"]
        #endif
        return schemes.isEmpty ? "(none: this build knows SQLite files only)" : schemes.joined(separator: ", ")
    }

    /// The lowercased scheme if `text` starts with `scheme://`, where a scheme is a letter followed by letters,
    /// digits, `+`, `-` or `.` (RFC 3986); `nil` for a file path.
    static func scheme(of text: String) -> String? {
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound]
        guard let first = scheme.unicodeScalars.first, first.isASCIILetter,
            scheme.unicodeScalars.allSatisfy({
                $0.isASCIILetter || $0.isASCIIDigit || "+-.".unicodeScalars.contains($0)
            })
        else { return nil }
        return scheme.lowercased()
    }
}

/// A location string that does not name a store this build can open. Its message never contains a password.
public struct StoreLocationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, in words.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    static func missingTrait(_ store: String, trait: String) -> StoreLocationError {
        StoreLocationError(
            "this build of Circuitry has no \(store) store: build it with the package trait \(trait) "
                + "(swift build --traits \(trait), or traits: [\"\(trait)\"] on the package dependency)")
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
