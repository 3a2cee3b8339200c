/// Leave to run one call, from ``CircuitBreaker/acquire()``; report the call's outcome with it.
///
/// The permit carries the generation it was admitted in, so a late report cannot change a circuit that has moved
/// on (nor a circuit that was forgotten or pruned and started again: see ``CircuitRecord/generation``), and, for a
/// half-open probe, the lease it holds. It is a plain value: a job queue may keep it with the job and report from
/// wherever the job finishes. A permit decoded from anywhere is safe to report: one that matches no generation or
/// lease of its circuit is dropped, and its times are used with saturating arithmetic.
///
/// A probe's outcome is counted once, as it releases the probe's lease. A closed circuit keeps no record of its
/// permits (admission is a plain read), so reporting the same permit of a closed circuit twice counts it twice.
public struct CircuitPermit: Sendable, Hashable, Codable {
    /// The circuit's full name.
    public let circuit: String
    /// The generation the call was admitted in.
    public let generation: Int64
    /// The probe lease, when the call is a half-open probe.
    public let lease: Int64?
    /// When the call was admitted (by the store's clock).
    public let admittedAt: Timestamp
    /// `false` when the store failed and the storage-failure policy admitted the call anyway; its outcome is not
    /// recorded.
    public let isRecorded: Bool

    /// Whether the call is a half-open probe.
    public var isProbe: Bool { lease != nil }
}
