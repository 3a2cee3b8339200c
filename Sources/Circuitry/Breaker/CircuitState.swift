/// The state of a circuit.
///
/// The raw values are what the stores write (`sqlite3 breakers.sqlite 'select name, state from circuits'`
/// shows `closed`, `open` and `half-open`).
public enum CircuitState: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Calls are admitted; failures are counted toward the trip policy.
    case closed
    /// Calls are rejected at once until the circuit's expiry, when it becomes half-open.
    case open
    /// A bounded number of probe calls is admitted; their outcomes decide whether the circuit closes or reopens.
    case halfOpen = "half-open"

    /// The name the stores write and the `circuitry` command prints.
    public var description: String { rawValue }
}
