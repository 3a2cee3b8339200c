import Circuitry

/// What a worker did, printed as one line of JSON on standard output.
struct WorkerReport: Codable, Sendable {
    /// `name pid N`: the actor written into the transitions this process committed.
    var actor: String
    var pid: Int32
    /// Calls the circuit admitted (closed calls and probes).
    var admitted = 0
    /// Calls the circuit rejected.
    var rejected = 0
    /// Admitted calls whose (simulated) work ran; equals `admitted`.
    var ran = 0
    /// Of those, how many failed and how many succeeded.
    var failuresRun = 0
    var successesRun = 0
    /// Admitted calls that were half-open probes.
    var probes = 0
    /// Admitted calls after this process's first rejection.
    var ranAfterFirstRejection = 0
    /// Store failures when asking for admission, and when recording an outcome.
    var acquireErrors = 0
    var recordErrors = 0
    /// The slowest admission and the slowest recording, in milliseconds (they include any busy wait).
    var slowestAcquireMs = 0.0
    var slowestRecordMs = 0.0
    /// Whether `factory.flush()` succeeded at the end.
    var flushed = false
    /// The first few store error messages.
    var errors: [String] = []
    /// Every call in order.
    var events: [CallEvent] = []
    /// The state-change callbacks this process received (one per transition it committed).
    var callbacks: [TransitionReport] = []
    /// The store's busy waits: total milliseconds and count.
    var busyWaitMs = 0.0
    var busyWaits: UInt64 = 0
    /// Wall time from the start barrier to the report, in milliseconds.
    var elapsedMs = 0.0

    init(actor: String, pid: Int32) {
        self.actor = actor
        self.pid = pid
    }

    mutating func note(_ error: any Error) {
        if errors.count < 5 { errors.append("\(error)") }
    }
}

/// One call as the worker saw it.
struct CallEvent: Codable, Sendable {
    enum Kind: String, Codable, Sendable {
        case ran, rejected, error
    }

    var index: Int
    var kind: Kind
    /// When the call was admitted, by the store's clock (ms since 1970).
    var admittedAt: Int64?
    var generation: Int64?
    var lease: Int64?
    /// `success` or `failure` for a call that ran.
    var outcome: String?
    /// `open`, `forced-open` or `probes-exhausted` for a rejection, and when to retry (ms since 1970).
    var reason: String?
    var retryAfter: Int64?
    /// Wall-clock time this process saw the answer to its admission (ms since 1970).
    var at: Int64
    var acquireMs: Double
    var recordMs: Double?
}

/// A transition as a callback received it.
struct TransitionReport: Codable, Sendable {
    var circuit: String
    var from: String
    var to: String
    var generation: Int64
    var at: Int64
    var reason: String
    var actor: String

    init(_ transition: CircuitTransition) {
        circuit = transition.circuit
        from = transition.from.rawValue
        to = transition.to.rawValue
        generation = transition.generation
        at = transition.at.millisecondsSince1970
        reason = transition.reason
        actor = transition.actor
    }
}
