import CircuitryWorkerReport

extension WorkerReport {
    /// The calls whose work ran.
    var ranEvents: [CallEvent] { events.filter { $0.kind == .ran } }
    /// The calls the circuit rejected.
    var rejections: [CallEvent] { events.filter { $0.kind == .rejected } }
}
