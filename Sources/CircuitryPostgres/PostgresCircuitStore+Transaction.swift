#if Postgres

import Circuitry
import PostgresNIO
import Synchronization

/// The read-modify-write transaction behind ``PostgresCircuitStore/update(_:_:)``, and the history it appends.
extension PostgresCircuitStore {
    /// An error thrown by the body of ``update(_:_:)``: passed through to the caller as it is.
    struct BodyError: Error {
        var error: any Error
    }

    /// One attempt: the value, or `nil` if another process created the circuit's row first (nothing was written).
    ///
    /// A transaction that wrote something tells `commit` its id and value just before its COMMIT, and that the
    /// COMMIT was answered just after.
    func updateOnce<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>,
        on connection: PostgresConnection, commit: CommitWatch<Value>
    ) async throws -> Value? {
        try await query("BEGIN", on: connection)
        do {
            // The lock is taken in the CTE; the time is read in the outer SELECT, after any wait for the lock, so
            // that a later commit never carries an earlier time.
            var binds = PostgresBindings()
            binds.append(name)
            let select = PostgresQuery(
                unsafeSQL: """
                    WITH locked AS (
                        SELECT \(PostgresRecordCoding.columns) FROM \(tables.circuits) WHERE name = $1 FOR UPDATE)
                    SELECT \(PostgresSchema.serverMilliseconds), locked.* FROM (VALUES (1)) AS one (x)
                    LEFT JOIN locked ON true
                    """, binds: binds)
            let columns = try await query(select, on: connection)[0].makeRandomAccess()
            let stored = try decoding { try PostgresRecordCoding.record(columns, offset: 1) }
            let now =
                try clock?.now() ?? Timestamp(millisecondsSince1970: decoding { try columns[0].decode(Int64.self) })

            var record = stored
            let result: StoreUpdate<Value>
            do {
                result = try body(&record, now)
            } catch {
                throw BodyError(error: error)
            }
            // The transaction's id, once it has written (txid_current() then names it without assigning one).
            var transaction: Int64?
            if result.write, var record {
                record.updatedAt = now
                let values = PostgresRecordCoding.bindings(record)
                if stored == nil {
                    let insert = PostgresQuery(
                        unsafeSQL: """
                            INSERT INTO \(tables.circuits) (\(PostgresRecordCoding.columns))
                            VALUES (\(PostgresRecordCoding.parameters))
                            ON CONFLICT (name) DO NOTHING RETURNING txid_current()
                            """, binds: values)
                    guard let inserted = try await query(insert, on: connection).first else {
                        try await query("ROLLBACK", on: connection)
                        return nil
                    }
                    transaction = try transactionID(inserted)
                } else {
                    let update = PostgresQuery(
                        unsafeSQL: """
                            UPDATE \(tables.circuits) SET \(PostgresRecordCoding.assignments)
                            WHERE name = $1 RETURNING txid_current()
                            """, binds: values)
                    transaction = try await query(update, on: connection).first.map(transactionID)
                }
            }
            if !result.transitions.isEmpty {
                let appending = try await appendHistory(result.transitions, on: connection)
                transaction = transaction ?? appending
            }
            if let transaction { commit.willCommit(transaction: transaction, value: result.value) }
            try await query("COMMIT", on: connection)
            commit.answered()
            return result.value
        } catch {
            await rollBack(connection)
            throw error
        }
    }

    /// Appends transitions and prunes each circuit's history to ``Configuration/historyLimit``.
    ///
    /// History ids must increase in commit order (readers follow the history with `afterID`), but an identity column
    /// hands out ids when rows are inserted, not when they commit. A transaction-scoped advisory lock, taken before
    /// the ids are drawn and held until the commit, puts history writers in line. They are rare: only state changes
    /// write history.
    ///
    /// Returns the transaction's id.
    func appendHistory(
        _ transitions: [CircuitTransition], on connection: PostgresConnection
    ) async throws -> Int64 {
        var key = PostgresBindings()
        key.append(tables.lockName + "history")
        let lock = try await query(
            PostgresQuery(
                unsafeSQL:
                    "SELECT txid_current(), pg_advisory_xact_lock(\(PostgresSchema.advisoryLockClass), hashtext($1))",
                binds: key),
            on: connection)
        for transition in transitions {
            var binds = PostgresBindings()
            binds.append(transition.circuit)
            binds.append(transition.at.millisecondsSince1970)
            binds.append(transition.from.rawValue)
            binds.append(transition.to.rawValue)
            binds.append(transition.generation)
            binds.append(transition.reason)
            binds.append(transition.actor)
            try await query(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(tables.transitions) (circuit, at, from_state, to_state, generation, reason, actor)
                        VALUES ($1, $2, $3, $4, $5, $6, $7)
                        """, binds: binds), on: connection)
        }
        for circuit in Set(transitions.map(\.circuit)) {
            var binds = PostgresBindings()
            binds.append(circuit)
            binds.append(Int64(configuration.historyLimit))
            try await query(
                PostgresQuery(
                    unsafeSQL: """
                        DELETE FROM \(tables.transitions) WHERE circuit = $1 AND id <= (
                            SELECT id FROM \(tables.transitions) WHERE circuit = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)
                        """, binds: binds), on: connection)
        }
        return try lock.first.map(transactionID) ?? 0
    }

    /// The transaction id in the first column of `row`.
    private func transactionID(_ row: PostgresRow) throws -> Int64 {
        try decoding { try row.makeRandomAccess()[0].decode(Int64.self) }
    }

    /// What became of a transaction whose COMMIT got no answer (the deadline passed, or the connection broke): the
    /// update's value if it committed, else `failure`.
    ///
    /// Without asking, a commit whose answer was lost would look like a failure: the caller would put back the
    /// successes it had batched into the commit, and count them a second time at its next write, and the
    /// transitions the commit made would never be called back. The server keeps the status of recent transactions
    /// (`txid_status`), which another connection can read within another ``Configuration/operationTimeout`` (or
    /// ``Configuration/connectTimeout``, if longer, as it may have to open one). If it
    /// cannot say (unreachable, or the COMMIT still in progress at the deadline), the update fails as it would have,
    /// with a message that says the write may have committed.
    /// https://www.postgresql.org/docs/15/functions-info.html#FUNCTIONS-PG-SNAPSHOT
    func outcome<Value: Sendable>(of sent: CommitWatch<Value>.Sent, failure: any Error) async throws -> Value {
        var binds = PostgresBindings()
        binds.append(sent.transaction)
        let status: String?
        do {
            // Another connection, which may have to be opened: connectTimeout may be the longer bound.
            let bound = max(configuration.operationTimeout, configuration.connectTimeout)
            status = try await withConnection(timeout: bound) { connection in
                while true {
                    let rows = try await self.query(
                        PostgresQuery(unsafeSQL: "SELECT txid_status($1)", binds: binds), on: connection)
                    let status = try self.decoding { try rows.first?.makeRandomAccess()[0].decode(String?.self) }
                    // Still committing, or the server has not yet seen that the client left: ask again shortly.
                    guard status == "in progress" else { return status }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
        } catch {
            status = nil
        }
        switch status {
        case "committed":
            logger.debug(
                "a COMMIT whose answer was lost had committed",
                metadata: ["circuitry.store": "\(location)", "circuitry.transaction": "\(sent.transaction)"])
            return sent.value
        case "aborted":
            throw failure
        default:
            let storeError = PostgresErrorMapping.storeError(failure, sql: nil, location: location)
            throw CircuitStoreError(
                code: storeError.code,
                message: storeError.message + "; the server could not say whether the write committed (transaction "
                    + "\(sent.transaction)), so its batched successes may be counted again",
                location: location, sql: storeError.sql)
        }
    }

    /// Ends a failed transaction. If even that fails, the connection is closed so that the pool never hands out a
    /// connection that is still inside a transaction.
    func rollBack(_ connection: PostgresConnection) async {
        guard !connection.isClosed else { return }
        do {
            try await connection.query("ROLLBACK", logger: Self.silent)
        } catch {
            try? await connection.close()
        }
    }
}

/// The transaction of an update whose COMMIT was sent and not yet answered, so that
/// ``PostgresCircuitStore/update(_:_:)`` can ask the server what became of it.
final class CommitWatch<Value: Sendable>: Sendable {
    /// A COMMIT on its way: the transaction's id, and what the update returns if it committed.
    struct Sent: Sendable {
        let transaction: Int64
        let value: Value
    }

    private let sent = Mutex<Sent?>(nil)

    /// The COMMIT of `transaction` is about to be sent.
    func willCommit(transaction: Int64, value: Value) {
        sent.withLock { $0 = Sent(transaction: transaction, value: value) }
    }

    /// The server answered the COMMIT.
    func answered() {
        sent.withLock { $0 = nil }
    }

    /// The COMMIT that was sent and got no answer, if any.
    var unanswered: Sent? { sent.withLock { $0 } }
}

#endif
