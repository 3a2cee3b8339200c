import Circuitry

// What `circuitry-worker` prints, one JSON object per line: written by the worker, read by the cross-process tests.

/// What a worker did, printed as one line of JSON on standard output.
package struct WorkerReport: Codable, Sendable {
    /// `name pid N`: the actor written into the transitions this process committed.
    package var actor: String
    package var pid: Int32
    /// Calls the circuit admitted (closed calls and probes).
    package var admitted = 0
    /// Calls the circuit rejected.
    package var rejected = 0
    /// Admitted calls whose (simulated) work ran; equals `admitted`.
    package var ran = 0
    /// Of those, how many failed and how many succeeded.
    package var failuresRun = 0
    package var successesRun = 0
    /// Admitted calls that were half-open probes.
    package var probes = 0
    /// Admitted calls after this process's first rejection.
    package var ranAfterFirstRejection = 0
    /// Store failures when asking for admission, and when recording an outcome.
    package var acquireErrors = 0
    package var recordErrors = 0
    /// The slowest admission and the slowest recording, in milliseconds (they include any busy wait).
    package var slowestAcquireMs = 0.0
    package var slowestRecordMs = 0.0
    /// Whether `factory.flush()` succeeded at the end.
    package var flushed = false
    /// The first few store error messages.
    package var errors: [String] = []
    /// Every call in order.
    package var events: [CallEvent] = []
    /// The state-change callbacks this process received (one per transition it committed).
    package var callbacks: [TransitionReport] = []
    /// The store's busy waits: total milliseconds and count (on Redis: the retries of updates that lost a race, and
    /// their waits).
    package var busyWaitMs = 0.0
    package var busyWaits: UInt64 = 0
    /// On Redis: the most attempts one update took (1 if none lost a race; 0 if nothing was written).
    package var mostUpdateAttempts = 0
    /// Wall time from the start barrier to the report, in milliseconds.
    package var elapsedMs = 0.0

    package init(actor: String, pid: Int32) {
        self.actor = actor
        self.pid = pid
    }

    package mutating func note(_ error: any Error) {
        if errors.count < 5 { errors.append("\(error)") }
    }
}

/// One call as the worker saw it.
package struct CallEvent: Codable, Sendable {
    package enum Kind: String, Codable, Sendable {
        case ran, rejected, error
    }

    package var index: Int
    package var kind: Kind
    /// When the call was admitted, by the store's clock (ms since 1970).
    package var admittedAt: Int64?
    package var generation: Int64?
    package var lease: Int64?
    /// `success` or `failure` for a call that ran.
    package var outcome: String?
    /// `open`, `forced-open` or `probes-exhausted` for a rejection, and when to retry (ms since 1970).
    package var reason: String?
    package var retryAfter: Int64?
    /// Wall-clock time this process saw the answer to its admission (ms since 1970).
    package var at: Int64
    package var acquireMs: Double
    package var recordMs: Double?

    package init(
        index: Int, kind: Kind, admittedAt: Int64? = nil, generation: Int64? = nil, lease: Int64? = nil,
        outcome: String? = nil, reason: String? = nil, retryAfter: Int64? = nil, at: Int64, acquireMs: Double,
        recordMs: Double? = nil
    ) {
        self.index = index
        self.kind = kind
        self.admittedAt = admittedAt
        self.generation = generation
        self.lease = lease
        self.outcome = outcome
        self.reason = reason
        self.retryAfter = retryAfter
        self.at = at
        self.acquireMs = acquireMs
        self.recordMs = recordMs
    }
}

/// A transition as a callback received it.
package struct TransitionReport: Codable, Sendable, Hashable {
    package var circuit: String
    package var from: String
    package var to: String
    package var generation: Int64
    package var at: Int64
    package var reason: String
    package var actor: String

    package init(_ transition: CircuitTransition) {
        circuit = transition.circuit
        from = transition.from.rawValue
        to = transition.to.rawValue
        generation = transition.generation
        at = transition.at.millisecondsSince1970
        reason = transition.reason
        actor = transition.actor
    }
}

/// The line a worker prints while it holds something for a test (`hold-probe`: a probe lease; `hold-write-lock`: the
/// write lock), or when it could not get it.
package struct Holding: Codable, Sendable {
    package var holding: Bool
    package var pid: Int32
    /// The probe's permit (`hold-probe`).
    package var generation: Int64?
    package var lease: Int64?
    package var admittedAt: Int64?
    /// Admissions asked for before a probe was admitted (`hold-probe`).
    package var attempts: Int?
    /// How far the worker got (`hold-write-lock`), and why it stopped there.
    package var step: String?
    package var message: String?

    package init(
        holding: Bool, pid: Int32, generation: Int64? = nil, lease: Int64? = nil, admittedAt: Int64? = nil,
        attempts: Int? = nil, step: String? = nil, message: String? = nil
    ) {
        self.holding = holding
        self.pid = pid
        self.generation = generation
        self.lease = lease
        self.admittedAt = admittedAt
        self.attempts = attempts
        self.step = step
        self.message = message
    }
}

/// What `circuitry-worker serve` prints while it runs: how many successes ran by `at` (wall-clock ms since 1970), and
/// how many of them were still batched in the process then.
package struct ServeProgress: Codable, Sendable {
    package var successes: Int
    package var at: Int64
    package var batched: Int64

    package init(successes: Int, at: Int64, batched: Int64) {
        self.successes = successes
        self.at = at
        self.batched = batched
    }
}

/// What `circuitry-worker serve` prints when its service group has shut down.
package struct ServeReport: Codable, Sendable {
    /// Successful calls, every one recorded (batched) before the shutdown.
    package var successes: Int
    /// The first few errors of calls.
    package var errors: [String]

    package init(successes: Int, errors: [String]) {
        self.successes = successes
        self.errors = errors
    }
}
