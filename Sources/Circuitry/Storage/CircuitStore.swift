import Foundation

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

    /// How many transitions of each circuit the history keeps: appending one more removes that circuit's oldest.
    /// A ``TransitionWatch`` needs it to tell a pruned history from a short one.
    var historyLimit: Int { get }
}

/// What a circuit name may contain, and the one rule by which names are compared everywhere.
///
/// **Comparison.** A ``BreakerFactory`` puts every name it is given (the naming function's result, or the name of an
/// operation such as ``BreakerFactory/reset(_:)``) in Unicode Normalization Form C (NFC) before it reaches a store or
/// any of the factory's own tables, so "café" written with U+00E9 and "cafe\u{301}" written with a combining accent
/// are one circuit. Stores compare names byte for byte (UTF-8), as SQL's `=` does, and the in-memory store does the
/// same; two NFC strings are canonically equivalent (Swift's `==`) exactly when their bytes are equal, so every store
/// and every in-process map agrees. A name used directly with a ``CircuitStore`` is taken as it is.
///
/// **Content.** A name is 1 to ``maximumLength`` bytes of UTF-8, without control characters (general category Cc),
/// format characters (Cf: bidirectional overrides such as U+202E, zero-width characters, soft hyphens) or line and
/// paragraph separators (Zl, Zp), which would garble `circuitry list` or hide what a name says.
public enum CircuitName {
    /// The longest accepted name, in UTF-8 bytes (of its NFC form).
    public static let maximumLength = 512

    /// `name` in NFC, checked by ``validate(_:)``: the form in which a factory stores and looks up circuits.
    /// - Throws: ``ConfigurationError`` (setting `name`) if the name is not acceptable.
    public static func normalized(_ name: String) throws(ConfigurationError) -> String {
        let normal = nfc(name)
        try validate(normal)
        return normal
    }

    /// `name` in Unicode Normalization Form C. ASCII text is already in NFC and comes back as it is, without the cost
    /// of Foundation's normalisation (microseconds per name).
    public static func nfc(_ name: String) -> String {
        if name.utf8.allSatisfy({ $0 < 0x80 }) { return name }
        let normal = name.precomposedStringWithCanonicalMapping
        // A name already in NFC comes back as it was given; otherwise as a native Swift string (Foundation's may be
        // bridged storage, slower to hash and compare in the breaker's tables on every call).
        if normal.utf8.elementsEqual(name.utf8) { return name }
        return String(decoding: Array(normal.utf8), as: UTF8.self)
    }

    /// Throws a ``ConfigurationError`` if `name` is empty, longer than ``maximumLength`` bytes, or contains a control
    /// character, a format character (such as a bidirectional override) or a line or paragraph separator.
    public static func validate(_ name: String) throws(ConfigurationError) {
        guard !name.isEmpty else {
            throw ConfigurationError(setting: "name", message: "a circuit name must not be empty")
        }
        guard name.utf8.count <= maximumLength else {
            throw ConfigurationError(
                setting: "name",
                message: "a circuit name is at most \(maximumLength) bytes; this one has \(name.utf8.count)")
        }
        if name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return }  // printable ASCII: nothing to look up
        guard name.unicodeScalars.contains(where: isForbidden) else { return }
        // The name is shown with the offending characters escaped, so that the message itself is not garbled.
        let shown = name.unicodeScalars.map { isForbidden($0) ? "\\u{\(String($0.value, radix: 16))}" : String($0) }
        throw ConfigurationError(
            setting: "name",
            message:
                "a circuit name must not contain control characters, format characters or separators: \"\(shown.joined())\""
        )
    }

    private static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
