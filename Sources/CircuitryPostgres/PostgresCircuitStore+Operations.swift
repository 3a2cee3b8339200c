#if Postgres

import Circuitry
import PostgresNIO

/// The store's operations: one short statement each, or (``update(_:_:)``) one transaction.
extension PostgresCircuitStore {
    public func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        let sql = """
            SELECT \(PostgresSchema.serverMilliseconds), c.* FROM (VALUES (1)) AS one (x)
            LEFT JOIN (SELECT \(PostgresRecordCoding.columns) FROM \(tables.circuits) WHERE name = $1) AS c ON true
            """
        var binds = PostgresBindings()
        binds.append(name)
        return try await withConnection { connection in
            let row = try await self.query(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection)[0]
            let columns = row.makeRandomAccess()
            let record = try self.decoding { try PostgresRecordCoding.record(columns, offset: 1) }
            let now = try self.clock?.now() ?? Timestamp(millisecondsSince1970: columns[0].decode(Int64.self))
            return (record, now)
        }
    }

    public func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value {
        let commit = CommitWatch<Value>()
        do {
            return try await withConnection { connection in
                // A circuit written for the first time by two processes at once: both find no row, and the second
                // INSERT finds the first one's row. It rolls back and runs again, now locking that row.
                for _ in 1...3 {
                    if let value = try await self.updateOnce(name, body, on: connection, commit: commit) {
                        return value
                    }
                }
                throw CircuitStoreError(
                    code: .busy,
                    message: "the circuit \(name.debugDescription) was created and removed repeatedly "
                        + "while this process tried to write it", location: self.location)
            }
        } catch {
            // The COMMIT was sent, and its answer lost: it may have committed.
            guard let sent = commit.unanswered else { throw error }
            return try await outcome(of: sent, failure: error)
        }
    }

    public func list() async throws -> (records: [CircuitRecord], now: Timestamp) {
        let sql = """
            SELECT \(PostgresSchema.serverMilliseconds), c.* FROM (VALUES (1)) AS one (x)
            LEFT JOIN (SELECT \(PostgresRecordCoding.columns) FROM \(tables.circuits)) AS c ON true
            ORDER BY c.name COLLATE "C"
            """
        return try await withConnection { connection in
            let rows = try await self.query(PostgresQuery(unsafeSQL: sql), on: connection).map {
                $0.makeRandomAccess()
            }
            let records = try self.decoding { try rows.compactMap { try PostgresRecordCoding.record($0, offset: 1) } }
            let now =
                try self.clock?.now()
                ?? Timestamp(millisecondsSince1970: self.decoding { try rows[0][0].decode(Int64.self) })
            return (records, now)
        }
    }

    public func remove(_ name: String) async throws -> Bool {
        var binds = PostgresBindings()
        binds.append(name)
        let sql = "DELETE FROM \(tables.circuits) WHERE name = $1 RETURNING 1"
        return try await withConnection { connection in
            try await !self.query(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection).isEmpty
        }
    }

    public func removeIdle(idleFor: Duration) async throws -> [String] {
        var binds = PostgresBindings()
        let cutoff: String
        if let clock {
            binds.append((clock.now() - idleFor).millisecondsSince1970)
            cutoff = "$1"
        } else {
            binds.append(idleFor.milliseconds)
            cutoff = "\(PostgresSchema.serverMilliseconds) - $1"
        }
        let sql = """
            DELETE FROM \(tables.circuits)
            WHERE state = 'closed' AND override IS NULL AND updated_at < \(cutoff) RETURNING name
            """
        return try await withConnection { connection in
            let rows = try await self.query(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection)
            return try self.decoding { try rows.map { try $0.makeRandomAccess()[0].decode(String.self) } }.sorted()
        }
    }

    public func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
        let select = "SELECT \(PostgresRecordCoding.transitionColumns) FROM \(tables.transitions)"
        var binds = PostgresBindings()
        binds.append(Int64(max(0, limit)))
        var conditions: [String] = []
        if let name {
            binds.append(name)
            conditions.append("circuit = $\(binds.count)")
        }
        if let afterID {
            binds.append(afterID)
            conditions.append("id > $\(binds.count)")
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql =
            afterID == nil
            ? "SELECT * FROM (\(select)\(filter) ORDER BY id DESC LIMIT $1) AS recent ORDER BY id"
            : "\(select)\(filter) ORDER BY id LIMIT $1"
        return try await withConnection { connection in
            let rows = try await self.query(PostgresQuery(unsafeSQL: sql, binds: binds), on: connection)
            return try self.decoding { try rows.map { try PostgresRecordCoding.entry($0.makeRandomAccess()) } }
        }
    }

    /// Runs statements against the server and returns every row, turning failures into `CircuitStoreError`.
    @discardableResult
    func query(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRow] {
        // A query written to a connection that is already closed is never answered (postgres-nio drops it), so a
        // connection closed by a deadline gets no more queries.
        guard !connection.isClosed else {
            throw CircuitStoreError(
                code: .connectionLost, message: "the connection was closed", location: location, sql: query.sql)
        }
        do {
            return try await connection.query(query, logger: logger).collect()
        } catch {
            throw PostgresErrorMapping.storeError(error, sql: query.sql, location: location)
        }
    }

    func decoding<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CircuitStoreError {
            throw error
        } catch {
            throw CircuitStoreError(code: .corrupt, message: "unreadable row: \(error)", location: location)
        }
    }
}

#endif
