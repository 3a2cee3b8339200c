#if Postgres

import Circuitry
import Logging
import PostgresNIO

/// The layout of Circuitry's tables in PostgreSQL, and how a store checks or creates it.
///
/// The schema is for people too: `psql -c 'select * from circuit_status'` shows state names and times. The version
/// is the one row of `circuitry_schema`; a newer version is refused, never rewritten, and a `circuits` table without
/// that row belongs to something else and is left alone.
struct PostgresSchema: Sendable {
    /// The version this build writes. Tables of a lower version are migrated when a store opens them
    /// (``migrations``); a version row for each migration is added to `circuitry_schema`.
    ///
    /// Version 2 added `circuits.reporters`.
    static let version: Int32 = 2

    /// The statements that take tables of version N − 1 to version N, by N.
    private func migrations(to version: Int32) -> [String] {
        switch version {
        case 2: ["ALTER TABLE \(circuits) ADD COLUMN reporters text NOT NULL DEFAULT ''"]
        default: []
        }
    }
    /// The first key of every advisory lock Circuitry takes: "Circ" in ASCII.
    /// https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS
    static let advisoryLockClass: Int32 = 0x4369_7263
    /// The longest unprefixed name of ours, to check that prefixed names fit in 63 bytes.
    static let longestName = "transitions_by_circuit"

    let schema: String
    let prefix: String

    init(schema: String, prefix: String) {
        self.schema = schema
        self.prefix = prefix
    }

    /// `"schema"."prefix<name>"`. Both parts were validated as plain identifiers.
    func qualified(_ name: String) -> String { "\"\(schema)\".\"\(prefix)\(name)\"" }

    var circuits: String { qualified("circuits") }
    var transitions: String { qualified("transitions") }
    var versionTable: String { qualified("circuitry_schema") }
    /// What the advisory locks of this set of tables are keyed on (with ``advisoryLockClass``).
    var lockName: String { "\(schema).\(prefix)" }

    /// The milliseconds since 1970 of the server's clock, at the moment the expression is evaluated.
    static let serverMilliseconds = "floor(extract(epoch FROM clock_timestamp()) * 1000)::int8"

    private func createStatements(withSchema: Bool) -> [String] {
        let readable = { (column: String) in "to_timestamp(\(column) / 1000.0) AT TIME ZONE 'UTC'" }
        let schemaStatement = withSchema ? ["CREATE SCHEMA IF NOT EXISTS \"\(schema)\""] : []
        return schemaStatement + [
            """
            CREATE TABLE \(circuits) (
                name                  text PRIMARY KEY,
                state                 text NOT NULL CHECK (state IN ('closed', 'open', 'half-open')),
                generation            int8 NOT NULL,
                requests              int8 NOT NULL DEFAULT 0,
                successes             int8 NOT NULL DEFAULT 0,
                failures              int8 NOT NULL DEFAULT 0,
                consecutive_successes int8 NOT NULL DEFAULT 0,
                consecutive_failures  int8 NOT NULL DEFAULT 0,
                expires_at            int8,
                probes                text NOT NULL DEFAULT '',
                override              text CHECK (override IN ('forced-open', 'forced-closed')),
                override_until        int8,
                override_reason       text,
                open_attempts         int8 NOT NULL DEFAULT 0,
                "window"              text NOT NULL DEFAULT '',
                updated_at            int8 NOT NULL,
                reporters             text NOT NULL DEFAULT ''
            )
            """,
            "COMMENT ON COLUMN \(circuits).reporters IS "
                + "'processes whose failures the closed circuit counted (minimumReporters), id:failures separated by commas'",
            "COMMENT ON COLUMN \(circuits).expires_at IS "
                + "'milliseconds since 1970; open: when probes may start; closed: when the counts reset'",
            "COMMENT ON COLUMN \(circuits).\"window\" IS "
                + "'rate-window buckets, start_ms:calls:failures:slow_calls separated by commas, oldest first'",
            "COMMENT ON COLUMN \(circuits).probes IS "
                + "'outstanding half-open probe leases, id@deadline_ms separated by commas'",
            """
            CREATE TABLE \(transitions) (
                id         int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                circuit    text NOT NULL,
                at         int8 NOT NULL,
                from_state text NOT NULL,
                to_state   text NOT NULL,
                generation int8 NOT NULL,
                reason     text NOT NULL,
                actor      text NOT NULL
            )
            """,
            "CREATE INDEX \"\(prefix)transitions_by_circuit\" ON \(transitions) (circuit, id)",
            """
            CREATE VIEW \(qualified("circuit_status")) AS
            SELECT name,
                   CASE WHEN state = 'open' AND expires_at <= \(Self.serverMilliseconds)
                        THEN 'half-open' ELSE state END AS state,
                   generation, requests, successes, failures, consecutive_failures,
                   \(readable("expires_at")) AS expires_at,
                   CASE probes WHEN '' THEN 0 ELSE cardinality(string_to_array(probes, ',')) END AS probes,
                   override,
                   \(readable("override_until")) AS override_until,
                   override_reason,
                   \(readable("updated_at")) AS updated_at
            FROM \(circuits)
            """,
            """
            CREATE VIEW \(qualified("transition_log")) AS
            SELECT id, \(readable("at")) AS at, circuit, from_state, to_state, generation, reason, actor
            FROM \(transitions)
            """,
            """
            CREATE TABLE \(versionTable) (
                version    int4 NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "COMMENT ON TABLE \(versionTable) IS 'the version of the Circuitry tables beside it; one row'",
            "INSERT INTO \(versionTable) (version) VALUES (\(Self.version))",
        ]
    }

    private enum Found {
        case noSchema, empty, ours, older(Int32), newer(Int32), foreign
    }

    /// Checks that the tables are Circuitry's and of a version this build reads, creating them if there are none
    /// (or, unless `creating`, refusing a database without them).
    ///
    /// Many processes may start at once against an empty database: creation runs in one transaction under a
    /// transaction-scoped advisory lock, and each process looks again once it holds the lock, so exactly one creates
    /// the tables and the others find them.
    func prepare(
        on connection: PostgresConnection, location: String, creating: Bool, timeoutMilliseconds: Int64,
        logger: Logger
    ) async throws {
        switch try await inspect(connection) {
        case .ours: return
        case .older: break
        case .newer(let version): throw newerError(version, location: location)
        case .foreign: throw foreignError(location: location)
        case .noSchema, .empty:
            guard creating else {
                throw CircuitStoreError(
                    code: .missing, message: "there are no Circuitry tables (\(circuits)) in the database",
                    location: location)
            }
        }
        try await run("BEGIN", on: connection, logger)
        do {
            try await run(
                PostgresQuery(unsafeSQL: "SET LOCAL lock_timeout = \(timeoutMilliseconds)"), on: connection, logger)
            try await run(
                PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(timeoutMilliseconds)"), on: connection, logger
            )
            try await run(
                "SELECT pg_advisory_xact_lock(\(Self.advisoryLockClass), hashtext(\(lockName)))", on: connection, logger
            )
            // Another process may have created (or changed) the tables while this one waited for the lock.
            let found = try await inspect(connection)
            switch found {
            case .ours:
                break
            case .older(let from):
                for step in (from + 1)...Self.version {
                    for statement in migrations(to: step) {
                        try await run(PostgresQuery(unsafeSQL: statement), on: connection, logger)
                    }
                    try await run(
                        PostgresQuery(unsafeSQL: "INSERT INTO \(versionTable) (version) VALUES (\(step))"),
                        on: connection, logger)
                }
                logger.info(
                    "migrated the Circuitry tables",
                    metadata: [
                        "circuitry.store": "\(location)", "circuitry.schema.from": "\(from)",
                        "circuitry.schema.version": "\(Self.version)",
                    ])
            case .newer(let version):
                throw newerError(version, location: location)
            case .foreign:
                throw foreignError(location: location)
            case .noSchema, .empty:
                let needsSchema = if case .noSchema = found { true } else { false }
                for statement in createStatements(withSchema: needsSchema) {
                    try await run(PostgresQuery(unsafeSQL: statement), on: connection, logger)
                }
                logger.info(
                    "created the Circuitry tables",
                    metadata: ["circuitry.store": "\(location)", "circuitry.schema.version": "\(Self.version)"])
            }
            try await run("COMMIT", on: connection, logger)
        } catch {
            if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger).collect() }
            throw error
        }
    }

    /// Runs a statement and reads its whole result, so that its error (if any) is thrown here and not by the next.
    private func run(_ query: PostgresQuery, on connection: PostgresConnection, _ logger: Logger) async throws {
        _ = try await connection.query(query, logger: logger).collect()
    }

    private func newerError(_ version: Int32, location: String) -> CircuitStoreError {
        CircuitStoreError(
            code: .newerSchema,
            message: "the Circuitry tables have schema version \(version), written by a newer Circuitry; "
                + "this build reads version \(Self.version) and leaves them untouched",
            location: location)
    }

    private func foreignError(location: String) -> CircuitStoreError {
        CircuitStoreError(
            code: .foreignDatabase,
            message: "\(circuits) exists but has no Circuitry version row in \(versionTable); it is left untouched",
            location: location)
    }

    private func inspect(_ connection: PostgresConnection) async throws -> Found {
        // Plain catalog reads with a fresh snapshot, rather than to_regclass(), whose cached catalog entries can lag
        // behind another session's commit: the look after taking the advisory lock must see the other's tables.
        let rows = try await connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = \(schema)),
                   EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = \(schema) AND c.relname = \(prefix + "circuitry_schema")),
                   EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = \(schema) AND c.relname = \(prefix + "circuits"))
            """, logger: PostgresCircuitStore.silent
        ).collect()
        let row = rows[0].makeRandomAccess()
        let (hasSchema, hasVersion, hasCircuits) = (
            try row[0].decode(Bool.self), try row[1].decode(Bool.self), try row[2].decode(Bool.self)
        )
        guard hasSchema else { return .noSchema }
        guard hasVersion else { return hasCircuits ? .foreign : .empty }
        let versions = try await connection.query(
            PostgresQuery(unsafeSQL: "SELECT max(version) FROM \(versionTable)"), logger: PostgresCircuitStore.silent
        ).collect()
        guard let version = try versions.first?.makeRandomAccess()[0].decode(Int32?.self) else { return .foreign }
        if version > Self.version { return .newer(version) }
        return version < Self.version ? (version >= 1 ? .older(version) : .foreign) : .ours
    }
}

#endif
