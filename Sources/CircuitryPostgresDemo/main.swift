import Circuitry
import CircuitryDemoKit
import CircuitryPostgres
import Foundation
import Logging

/// `make demo-postgres`: the breakers on the PostgreSQL server that `CIRCUITRY_POSTGRES_URL` names (the make target
/// starts a throw-away one). The job queue stays in a SQLite file: it is the demo's, not the library's.
enum PostgresDemo: DemoBackend {
    static let commandName = "circuitry-demo-postgres"
    static let summary = "one PostgreSQL database ($\(variable))"
    static let variable = "CIRCUITRY_POSTGRES_URL"

    static func location(in folder: URL) throws -> String {
        guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else {
            throw DemoError(
                "set \(variable) to a postgres:// URL, or run `make demo-postgres`, which starts a throw-away server")
        }
        return url
    }

    static func describe(_ location: String) throws -> String {
        "PostgresCircuitStore, \(try configuration(location).location)"
    }

    static func withStore<Value: Sendable>(
        _ location: String, logger: Logger, _ body: (any CircuitStore) async throws -> Value
    ) async throws -> Value {
        try await PostgresCircuitStore.withStore(configuration: try configuration(location), logger: logger) {
            try await body($0)
        }
    }

    /// `psql` with the server in libpq's environment variables, so that no password is printed.
    static func operatorCommands(_ location: String) throws -> [OperatorCommand] {
        let configuration = try configuration(location)
        func name(_ view: String) -> String {
            if configuration.schema == "public", configuration.tablePrefix.isEmpty { return view }
            return "\"\(configuration.schema)\".\"\(configuration.tablePrefix)\(view)\""
        }
        var environment = [
            "PGHOST": configuration.host, "PGPORT": "\(configuration.port)", "PGUSER": configuration.username,
            "PGDATABASE": configuration.database,
        ]
        if let password = configuration.password { environment["PGPASSWORD"] = password }
        // Debian's postgresql-15 puts psql here; postgresql-client puts it on the PATH.
        let debian = "/usr/lib/postgresql/15/bin/psql"
        let psql = FileManager.default.isExecutableFile(atPath: debian) ? debian : "psql"
        let server =
            "postgres://\(configuration.username)@\(configuration.host):\(configuration.port)/\(configuration.database)"
        return OperatorQueries.all(circuitStatus: name("circuit_status"), transitionLog: name("transition_log")).map {
            query in
            OperatorCommand(
                shown: "psql \(server) -c '\(query)'", executable: psql,
                arguments: ["-c", query], environment: environment,
                whenMissing: "(psql is not installed here: apt-get install postgresql-client)")
        }
    }

    private static func configuration(_ location: String) throws -> PostgresCircuitStore.Configuration {
        try PostgresCircuitStore.Configuration(url: location)
    }
}

await DemoCommand<PostgresDemo>.runFromCommandLine()
