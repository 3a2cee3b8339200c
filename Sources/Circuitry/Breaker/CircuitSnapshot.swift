/// A circuit as it stands at one instant, read without changing anything.
public struct CircuitSnapshot: Sendable, Hashable {
    /// The record as evaluated at ``now``: an open circuit whose time is up is shown half-open, an expired probe
    /// lease has reopened it, an elapsed reset interval has cleared its counts. Nothing of this was written.
    public var record: CircuitRecord
    /// The state as last written to the store (which may lag ``state`` until the next call writes it).
    public var storedState: CircuitState?
    /// The store's time at the read.
    public var now: Timestamp
    /// Successes of this circuit that this process has batched and not written yet.
    public var unflushedSuccesses: Int64

    /// The state as of ``now``.
    public var state: CircuitState { record.state }
    /// When an open circuit will admit a probe (`nil` if not open, or forced open with no end).
    public var retryAfter: Timestamp? { record.state == .open ? record.expiresAt : nil }
    /// Whether the store has a record of this circuit: from its first admission or override on, until it is
    /// forgotten or pruned.
    public var isStored: Bool { storedState != nil }
}
