/// A worker's report, as `circuitry-worker` prints it (see `Sources/CircuitryWorker/WorkerReport.swift`).
struct Report: Decodable, Sendable {
    var actor: String
    var pid: Int32
    var admitted: Int
    var rejected: Int
    var ran: Int
    var failuresRun: Int
    var successesRun: Int
    var probes: Int
    var ranAfterFirstRejection: Int
    var acquireErrors: Int
    var recordErrors: Int
    var slowestAcquireMs: Double
    var slowestRecordMs: Double
    var flushed: Bool
    var errors: [String]
    var events: [Event]
    var callbacks: [Transition]
    var busyWaitMs: Double
    var busyWaits: UInt64
    var elapsedMs: Double

    struct Event: Decodable, Sendable {
        var index: Int
        var kind: String
        var admittedAt: Int64?
        var generation: Int64?
        var lease: Int64?
        var outcome: String?
        var reason: String?
        var retryAfter: Int64?
        var at: Int64
        var acquireMs: Double
        var recordMs: Double?
    }

    struct Transition: Decodable, Sendable, Hashable {
        var circuit: String
        var from: String
        var to: String
        var generation: Int64
        var at: Int64
        var reason: String
        var actor: String
    }

    var ranEvents: [Event] { events.filter { $0.kind == "ran" } }
    var rejections: [Event] { events.filter { $0.kind == "rejected" } }
}

/// A worker's line while it holds a probe lease or the write lock.
struct Holding: Decodable, Sendable {
    var holding: Bool
    var pid: Int32
    var generation: Int64?
    var lease: Int64?
    var admittedAt: Int64?
    var step: String?
    var message: String?
}
