/// The store's prepared statements and the mapping between rows and ``CircuitRecord``.
///
/// `@unchecked Sendable`: the store keeps the only reference inside its `Mutex` and uses it only under that lock.
final class SQLiteStatements: @unchecked Sendable {
    let connection: SQLiteConnection
    /// Records read or written on this connection since the last commit of any connection.
    let reads = SQLiteReadCache()
    private let historyLimit: Int
    private let selectOne: SQLiteStatement
    private let selectAll: SQLiteStatement
    private let upsertOne: SQLiteStatement
    private let updateCounts: SQLiteStatement
    private let deleteOne: SQLiteStatement
    private let deleteIdle: SQLiteStatement
    private let insertTransition: SQLiteStatement
    private let pruneTransitions: SQLiteStatement
    private let historyOfOne: SQLiteStatement
    private let historyOfAll: SQLiteStatement
    private let historyOfOneAfter: SQLiteStatement
    private let historyOfAllAfter: SQLiteStatement

    private static let columns = CircuitColumn.names()
    /// `column = ?N` for every column but the name (and `leavingOut`), numbered as in ``CircuitColumn``.
    private static func assignments(leavingOut: Set<CircuitColumn> = []) -> String {
        CircuitColumn.allCases.dropFirst().filter { !leavingOut.contains($0) }
            .map { "\($0.name) = ?\($0.rawValue + 1)" }.joined(separator: ", ")
    }
    private static let transitionColumns = "id, circuit, at, from_state, to_state, generation, reason, actor"

    init(_ connection: SQLiteConnection, historyLimit: Int) throws(CircuitStoreError) {
        self.connection = connection
        self.historyLimit = historyLimit
        selectOne = try connection.prepare("SELECT \(Self.columns) FROM circuits WHERE name = ?1")
        selectAll = try connection.prepare("SELECT \(Self.columns) FROM circuits ORDER BY name")
        let parameters = CircuitColumn.allCases.map { "?\($0.rawValue + 1)" }.joined(separator: ", ")
        upsertOne = try connection.prepare(
            """
            INSERT INTO circuits (\(Self.columns)) VALUES (\(parameters))
            ON CONFLICT (name) DO UPDATE SET \(Self.assignments())
            """)
        // The same parameters as the upsert, leaving the columns with CHECK constraints alone (see `write`).
        updateCounts = try connection.prepare(
            """
            UPDATE circuits SET \(Self.assignments(leavingOut: [.state, .override, .overrideUntil, .overrideReason]))
            WHERE name = ?1
            """)
        deleteOne = try connection.prepare("DELETE FROM circuits WHERE name = ?1")
        deleteIdle = try connection.prepare(
            """
            DELETE FROM circuits WHERE state = 'closed' AND override IS NULL AND updated_at < ?1
            RETURNING name
            """)
        insertTransition = try connection.prepare(
            """
            INSERT INTO transitions (circuit, at, from_state, to_state, generation, reason, actor)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            """)
        pruneTransitions = try connection.prepare(
            """
            DELETE FROM transitions WHERE circuit = ?1 AND id <= (
                SELECT id FROM transitions WHERE circuit = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)
            """)
        let history = "SELECT \(Self.transitionColumns) FROM transitions"
        historyOfOne = try connection.prepare(
            "SELECT * FROM (\(history) WHERE circuit = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id")
        historyOfAll = try connection.prepare("SELECT * FROM (\(history) ORDER BY id DESC LIMIT ?2) ORDER BY id")
        historyOfOneAfter = try connection.prepare(
            "\(history) WHERE circuit = ?1 AND id > ?3 ORDER BY id LIMIT ?2")
        historyOfAllAfter = try connection.prepare("\(history) WHERE id > ?3 ORDER BY id LIMIT ?2")
    }

    // MARK: Circuits

    /// The record of `name` as last committed: from ``reads`` when no connection has committed since it was read or
    /// written there, otherwise a `SELECT`.
    func latest(_ name: String) throws -> CircuitRecord? {
        try reads.record(name, current: connection.walIndex?.header()) { try select(name) }
    }

    func select(_ name: String) throws -> CircuitRecord? {
        try selectOne.use { statement in
            try statement.bind(1, name)
            return try statement.step() ? try Self.decode(statement) : nil
        }
    }

    func list() throws -> [CircuitRecord] {
        try selectAll.use { statement in
            var records: [CircuitRecord] = []
            while try statement.step() { records.append(try Self.decode(statement)) }
            return records
        }
    }

    /// Writes `record`, which was read as `stored` earlier in the same transaction.
    ///
    /// When the row exists and neither its state nor its override changes (a failure or a folded batch of a
    /// closed circuit), this is an `UPDATE` that leaves the `state` and `override` columns alone: SQLite checks a
    /// CHECK constraint on `UPDATE` only when a column it names is assigned, and each of ours (`state IN (…)`,
    /// `override IN (…)`) runs as an ephemeral table built and freed on every check (`EXPLAIN` shows
    /// `OpenEphemeral`). The upsert checks both twice, which made it cost twice the write-transaction floor.
    func write(_ record: CircuitRecord, replacing stored: CircuitRecord?) throws {
        guard let stored, stored.name == record.name, stored.state == record.state, stored.override == record.override
        else {
            return try upsert(record)
        }
        try updateCounts.use { statement in
            try Self.bindColumns(record, to: statement)
            try statement.run()
        }
    }

    func upsert(_ record: CircuitRecord) throws {
        try upsertOne.use { statement in
            try Self.bindColumns(record, to: statement)
            try statement.run()
        }
    }

    /// Binds every column of `record` to the parameter numbered as the column.
    private static func bindColumns(_ record: CircuitRecord, to statement: SQLiteStatement) throws {
        let row = CircuitRow(record)
        for column in CircuitColumn.allCases { try statement.bind(Int32(column.rawValue + 1), row[column]) }
    }

    func delete(_ name: String) throws -> Bool {
        try deleteOne.use { statement in
            try statement.bind(1, name)
            try statement.run()
        }
        return connection.changes > 0
    }

    func removeIdle(before cutoff: Timestamp) throws -> [String] {
        try deleteIdle.use { statement in
            try statement.bind(1, cutoff.millisecondsSince1970)
            var names: [String] = []
            while try statement.step() { names.append(statement.text(0) ?? "") }
            return names.sorted()
        }
    }

    // MARK: History

    func append(_ transition: CircuitTransition) throws {
        try insertTransition.use { statement in
            try statement.bind(1, transition.circuit)
            try statement.bind(2, transition.at.millisecondsSince1970)
            try statement.bind(3, transition.from.rawValue)
            try statement.bind(4, transition.to.rawValue)
            try statement.bind(5, transition.generation)
            try statement.bind(6, transition.reason)
            try statement.bind(7, transition.actor)
            try statement.run()
        }
        try pruneTransitions.use { statement in
            try statement.bind(1, transition.circuit)
            try statement.bind(2, Int64(historyLimit))
            try statement.run()
        }
    }

    func history(of name: String?, afterID: Int64?, limit: Int) throws -> [HistoryEntry] {
        let statement: SQLiteStatement
        switch (name, afterID) {
        case (.some, nil): statement = historyOfOne
        case (nil, nil): statement = historyOfAll
        case (.some, .some): statement = historyOfOneAfter
        case (nil, .some): statement = historyOfAllAfter
        }
        return try statement.use { statement in
            if let name { try statement.bind(1, name) }
            try statement.bind(2, Int64(limit))
            if let afterID { try statement.bind(3, afterID) }
            var entries: [HistoryEntry] = []
            while try statement.step() {
                let transition = CircuitTransition(
                    circuit: statement.text(1) ?? "",
                    from: try CircuitRow.state(statement.text(3)),
                    to: try CircuitRow.state(statement.text(4)),
                    generation: try statement.requiredInteger(5),
                    at: Timestamp(millisecondsSince1970: try statement.requiredInteger(2)),
                    reason: statement.text(6) ?? "",
                    actor: statement.text(7) ?? "")
                entries.append(HistoryEntry(id: try statement.requiredInteger(0), transition: transition))
            }
            return entries
        }
    }

    // MARK: Decoding

    /// Reads a row of ``columns``, every value with its type checked (see ``SQLiteStatement/integer(_:)``).
    private static func decode(_ row: SQLiteStatement) throws(CircuitStoreError) -> CircuitRecord {
        try CircuitRow { column in row.value(Int32(column.rawValue)) }.record()
    }
}
