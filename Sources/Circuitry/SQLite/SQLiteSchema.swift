/// The layout of a Circuitry SQLite database, and how a connection checks or creates it.
///
/// The schema is for people too: `sqlite3 breakers.sqlite 'select * from circuit_status'` shows state names and
/// ISO 8601 times. Its version is `PRAGMA user_version`; `PRAGMA application_id` marks the file as Circuitry's, so
/// that a database belonging to something else is never touched.
enum SQLiteSchema {
    /// The version this build writes. A database with a higher `user_version` is refused, never rewritten; one with a
    /// lower version is migrated (``migrations``) when it is opened.
    ///
    /// Version 2 added `circuits.reporters`.
    static let version: Int64 = 2

    /// The statements that take a database of version N − 1 to version N, by N. Each adds what a newer build needs
    /// and keeps every row: an older build then refuses the file (its version is higher than that build's).
    static let migrations: [Int64: [String]] = [
        2: ["ALTER TABLE circuits ADD COLUMN reporters TEXT NOT NULL DEFAULT ''"]
    ]
    /// `PRAGMA application_id`: "Circ" in ASCII. https://www.sqlite.org/fileformat.html#application_id
    static let applicationID: Int64 = 0x4369_7263

    static let create = """
        CREATE TABLE circuits (
            name                  TEXT PRIMARY KEY NOT NULL,
            state                 TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half-open')),
            generation            INTEGER NOT NULL,
            requests              INTEGER NOT NULL DEFAULT 0,
            successes             INTEGER NOT NULL DEFAULT 0,
            failures              INTEGER NOT NULL DEFAULT 0,
            consecutive_successes INTEGER NOT NULL DEFAULT 0,
            consecutive_failures  INTEGER NOT NULL DEFAULT 0,
            -- milliseconds since 1970; open: when probes may start; closed: when the counts reset
            expires_at            INTEGER,
            -- outstanding half-open probe leases, 'id@deadline_ms' separated by commas
            probes                TEXT NOT NULL DEFAULT '',
            override              TEXT CHECK (override IN ('forced-open', 'forced-closed')),
            override_until        INTEGER,
            override_reason       TEXT,
            open_attempts         INTEGER NOT NULL DEFAULT 0,
            -- rate-window buckets, 'start_ms:calls:failures:slow_calls' separated by commas, oldest first
            window                TEXT NOT NULL DEFAULT '',
            updated_at            INTEGER NOT NULL,
            -- processes whose failures the closed circuit counted (minimumReporters), 'id:failures' separated by commas
            reporters             TEXT NOT NULL DEFAULT ''
        ) WITHOUT ROWID;

        CREATE TABLE transitions (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            circuit    TEXT NOT NULL,
            at         INTEGER NOT NULL,
            from_state TEXT NOT NULL,
            to_state   TEXT NOT NULL,
            generation INTEGER NOT NULL,
            reason     TEXT NOT NULL,
            actor      TEXT NOT NULL
        );
        CREATE INDEX transitions_by_circuit ON transitions (circuit, id);

        CREATE VIEW circuit_status AS
        SELECT name,
               CASE WHEN state = 'open' AND expires_at <= CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                    THEN 'half-open' ELSE state END AS state,
               generation, requests, successes, failures, consecutive_failures,
               strftime('%Y-%m-%dT%H:%M:%fZ', expires_at / 1000.0, 'unixepoch') AS expires_at,
               CASE probes WHEN '' THEN 0 ELSE length(probes) - length(replace(probes, ',', '')) + 1 END AS probes,
               override,
               strftime('%Y-%m-%dT%H:%M:%fZ', override_until / 1000.0, 'unixepoch') AS override_until,
               override_reason,
               strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch') AS updated_at
        FROM circuits;

        CREATE VIEW transition_log AS
        SELECT id,
               strftime('%Y-%m-%dT%H:%M:%fZ', at / 1000.0, 'unixepoch') AS at,
               circuit, from_state, to_state, generation, reason, actor
        FROM transitions;
        """

    /// Checks that the database is Circuitry's and of a version this build reads, creating the schema in an empty
    /// database. Writes nothing to a file that is not an empty database or one of ours.
    static func prepare(_ connection: SQLiteConnection) throws(CircuitStoreError) {
        // Reading the header first: a file that is not a database (SQLITE_NOTADB) or is truncated
        // (SQLITE_CORRUPT) fails here, before anything is written.
        let found = try inspectInOneSnapshot(connection)
        switch found {
        case .ours, .older: break
        case .empty: break
        case .newer(let version):
            throw CircuitStoreError(
                code: .newerSchema,
                message: "the database has schema version \(version), written by a newer Circuitry; "
                    + "this build reads version \(Self.version) and leaves the file untouched",
                location: connection.path)
        case .foreign:
            throw foreignError(connection)
        }

        // WAL persists in the file once set. It needs the exclusive lock, which the busy handler waits for.
        // https://www.sqlite.org/wal.html#activating_and_configuring_wal_mode
        // When several processes open a brand-new file at once, this can fail with SQLITE_BUSY within
        // microseconds and without SQLite calling the busy handler (seen with 8 processes), so it is retried
        // within the busy bound.
        let mode = try connection.retryingWhenBusy { () throws(CircuitStoreError) in
            try connection.scalarText("PRAGMA journal_mode = WAL")
        }
        guard mode?.lowercased() == "wal" else {
            throw CircuitStoreError(
                code: .other, message: "could not switch the database to WAL mode (journal_mode is \(mode ?? "?"))",
                location: connection.path)
        }

        switch found {
        case .ours, .newer, .foreign: return
        case .empty, .older: break
        }
        // Many processes may open a brand-new path (or an older version's file) at once: the first to take the write
        // lock creates (or migrates) the schema; the others find it done when they get the lock.
        try connection.execute("BEGIN IMMEDIATE")
        do throws(CircuitStoreError) {
            switch try inspect(connection) {
            case .ours:
                break
            case .older(let from):
                for step in (from + 1)...version {
                    for statement in migrations[step] ?? [] { try connection.execute(statement) }
                }
                try connection.execute("PRAGMA user_version = \(version)")
            case .empty:
                try connection.execute(create)
                try connection.execute("PRAGMA application_id = \(applicationID)")
                try connection.execute("PRAGMA user_version = \(version)")
            case .newer, .foreign:
                throw foreignError(connection)
            }
            try connection.execute("COMMIT")
        } catch {
            if connection.inTransaction { try? connection.execute("ROLLBACK") }
            throw error
        }
    }

    private enum Found {
        case empty, ours, older(Int64), newer(Int64), foreign
    }

    /// ``inspect(_:)`` inside one read transaction: as three separate reads, another process could create the
    /// schema between them, and this one would see a database with tables but without our application id.
    private static func inspectInOneSnapshot(_ connection: SQLiteConnection) throws(CircuitStoreError) -> Found {
        try connection.execute("BEGIN DEFERRED")
        do throws(CircuitStoreError) {
            let found = try inspect(connection)
            try connection.execute("COMMIT")
            return found
        } catch {
            if connection.inTransaction { try? connection.execute("ROLLBACK") }
            throw error
        }
    }

    private static func inspect(_ connection: SQLiteConnection) throws(CircuitStoreError) -> Found {
        let applicationID = try connection.scalarInt("PRAGMA application_id")
        let userVersion = try connection.scalarInt("PRAGMA user_version")
        let objects = try connection.scalarInt("SELECT count(*) FROM sqlite_schema")
        if applicationID == Self.applicationID {
            if userVersion > version { return .newer(userVersion) }
            guard userVersion >= version else { return userVersion >= 1 ? .older(userVersion) : .foreign }
            return .ours
        }
        return applicationID == 0 && userVersion == 0 && objects == 0 ? .empty : .foreign
    }

    private static func foreignError(_ connection: SQLiteConnection) -> CircuitStoreError {
        CircuitStoreError(
            code: .foreignDatabase,
            message: "the file is an SQLite database that Circuitry did not create; it is left untouched",
            location: connection.path)
    }
}
