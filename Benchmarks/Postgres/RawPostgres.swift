#if Postgres

import CircuitryBenchmarkSupport
import CircuitryPostgres
import Logging
import PostgresNIO

/// The physical limit of the PostgreSQL store: the same server, connection settings, table and row as Circuitry,
/// through postgres-nio directly, with none of Circuitry.
///
/// A `PostgresClient` with the settings of the store's own pool (`PostgresCircuitStore.clientConfiguration`: TCP,
/// the same TLS mode, pool size and start-up parameters). The floors run their statements on one leased
/// connection, so they pay the round trips and nothing else; one more floor leases a connection per statement, as
/// every store operation does.
struct RawPostgres: Sendable {
    let client: PostgresClient
    let circuits: String
    let row: String

    /// Runs a client for `configuration` while `body` runs, with the row `row` in the store's `circuits` table (which
    /// the store must already have created).
    static func with<Value: Sendable>(
        _ configuration: PostgresCircuitStore.Configuration, row: String,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RawPostgres) async throws -> Value
    ) async throws -> Value {
        var floorConfiguration = configuration
        floorConfiguration.applicationName = "circuitry-bench-floor"
        let client = PostgresClient(
            configuration: PostgresCircuitStore.clientConfiguration(floorConfiguration), backgroundLogger: quietLogger)
        return try await withThrowingTaskGroup(of: Void.self, isolation: isolation) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let raw = RawPostgres(
                client: client, circuits: "\"\(configuration.schema)\".\"\(configuration.tablePrefix)circuits\"",
                row: row)
            try await client.query(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(raw.circuits) (name, state, generation, updated_at) VALUES ($1, 'closed', 1, 0)
                        ON CONFLICT (name) DO NOTHING
                        """, binds: raw.nameBinding), logger: quietLogger)
            return try await body(raw)
        }
    }

    private var nameBinding: PostgresBindings {
        var binds = PostgresBindings()
        binds.append(row)
        return binds
    }

    private var select: PostgresQuery {
        PostgresQuery(
            unsafeSQL: """
                SELECT name, state, generation, requests, successes, failures, consecutive_successes,
                    consecutive_failures, expires_at, probes, override, override_until, override_reason, open_attempts,
                    "window", updated_at FROM \(circuits) WHERE name = $1
                """, binds: nameBinding)
    }

    /// `SELECT row`, `count` times on one connection: one round trip each.
    func read(_ count: Int) async throws {
        let select = self.select
        try await client.withConnection { connection in
            for _ in 0..<count { try await Self.readRow(select, on: connection) }
        }
    }

    /// Leases a pooled connection and runs `SELECT row` on it, `count` times: what every store operation pays at
    /// least.
    func leaseAndRead(_ count: Int) async throws {
        let select = self.select
        for _ in 0..<count {
            try await client.withConnection { connection in try await Self.readRow(select, on: connection) }
        }
    }

    /// `BEGIN; SELECT row FOR UPDATE; UPDATE row; COMMIT`, `count` times on one connection: four round trips each.
    func writeTransaction(_ count: Int) async throws {
        let lock = PostgresQuery(unsafeSQL: select.sql + " FOR UPDATE", binds: nameBinding)
        var binds = nameBinding
        binds.append(Int64(0))
        let update = PostgresQuery(
            unsafeSQL: """
                UPDATE \(circuits) SET requests = requests + 1, failures = failures + 1, updated_at = $2 WHERE name = $1
                """, binds: binds)
        try await client.withConnection { connection in
            for _ in 0..<count {
                _ = try await connection.query("BEGIN", logger: quietLogger).collect()
                try await Self.readRow(lock, on: connection)
                _ = try await connection.query(update, logger: quietLogger).collect()
                _ = try await connection.query("COMMIT", logger: quietLogger).collect()
            }
        }
    }

    /// Runs `select` and reads the columns a decision needs, as Circuitry does.
    private static func readRow(_ select: PostgresQuery, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(select, logger: quietLogger).collect()
        guard let row = rows.first else { throw BenchmarkFailure(description: "the floor row is missing") }
        let columns = row.makeRandomAccess()
        _ = try columns[1].decode(String.self)
        _ = try columns[2].decode(Int64.self)
        _ = try columns[7].decode(Int64.self)
    }

    /// One text value the server reports, such as `SHOW fsync` or `SELECT version()`.
    func text(_ sql: String) async throws -> String {
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger).collect()
        return try rows.first?.makeRandomAccess()[0].decode(String.self) ?? ""
    }

    /// Drops the benchmark's schema and everything in it.
    func dropSchema(_ schema: String) async throws {
        try await client.query(
            PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"), logger: quietLogger)
    }
}

#endif
