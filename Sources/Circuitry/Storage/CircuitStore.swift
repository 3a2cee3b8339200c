/// What an atomic update of one circuit hands back to its store.
public struct StoreUpdate<Value> {
    /// What the update returns to its caller.
    public var value: Value
    /// Whether the record must be written back. `false` leaves the stored row untouched.
    public var write: Bool
    /// Transitions to append to the store's history in the same transaction.
    public var transitions: [CircuitTransition]

    /// Creates an update result.
    public init(value: Value, write: Bool, transitions: [CircuitTransition] = []) {
        self.value = value
        self.write = write
        self.transitions = transitions
    }
}

extension StoreUpdate: Sendable where Value: Sendable {}

/// A place where circuit records live, shared by every process that opens it.
///
/// A store's one essential job is ``update(_:_:)``: an atomic read-modify-write of one circuit record, held for
/// no longer than the body takes (never across the user's work). The breaker's rules run inside the body; the
/// store knows nothing of them. ``read(_:)`` is a plain read with no lock, used for decisions that do not write.
///
/// The same conformance suite runs against every store in this package: ``InMemoryCircuitStore``,
/// ``SQLiteCircuitStore`` and the PostgreSQL store.
public protocol CircuitStore: Sendable {
    /// The circuit's record as last committed (`nil` if it was never written), and the store's current time.
    func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp)

    /// Atomically reads the record of `name` (`nil` if none), passes it and the store's current time to `body`,
    /// and, in the same transaction, writes the record back if `body` asks to and appends its transitions to the
    /// history. If `body` throws, nothing is written.
    func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value

    /// Every stored circuit, ordered by name, and the store's current time.
    func list() async throws -> (records: [CircuitRecord], now: Timestamp)

    /// Removes a circuit's record (its history stays). Returns whether there was one.
    func remove(_ name: String) async throws -> Bool

    /// Atomically removes every closed circuit without an override whose record was last written longer than
    /// `idleFor` ago (by the store's clock), and returns their names. Their history stays.
    func removeIdle(idleFor: Duration) async throws -> [String]

    /// The most recent transitions, oldest first: of one circuit or (with `nil`) of all, with ids greater than
    /// `afterID` when given, at most `limit` of them.
    func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry]
}

/// Circuit names are stored as they are; these limits keep them printable and indexable in every store.
public enum CircuitName {
    /// The longest accepted name, in UTF-8 bytes.
    public static let maximumLength = 512

    /// Throws a ``ConfigurationError`` if `name` is empty, longer than ``maximumLength`` bytes, or contains
    /// control characters.
    public static func validate(_ name: String) throws(ConfigurationError) {
        guard !name.isEmpty else {
            throw ConfigurationError(setting: "name", message: "a circuit name must not be empty")
        }
        guard name.utf8.count <= maximumLength else {
            throw ConfigurationError(
                setting: "name",
                message: "a circuit name is at most \(maximumLength) bytes; this one has \(name.utf8.count)")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ConfigurationError(
                setting: "name", message: "a circuit name must not contain control characters: \(name.debugDescription)"
            )
        }
    }
}
