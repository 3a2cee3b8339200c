/// Leave to run one call, from ``CircuitBreaker/acquire()``; report the call's outcome with it.
///
/// The permit carries the generation it was admitted in, so a late report cannot change a circuit that has moved
/// on, and, for a half-open probe, the lease it holds. It is a plain value: a job queue may keep it with the job
/// and report from wherever the job finishes.
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
