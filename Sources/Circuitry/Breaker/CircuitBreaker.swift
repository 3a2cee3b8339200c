/// The breaker of one circuit: admits or rejects calls and records their outcomes in the shared store.
///
/// A breaker is a small value made by ``BreakerFactory/breaker(for:context:)``. No lock or transaction is held
/// while the work runs: admission is one short store operation and recording the outcome is another.
public struct CircuitBreaker: Sendable {
    let identity: CircuitIdentity
    let engine: BreakerEngine

    /// The circuit's full name.
    public var name: String { identity.name }
    /// The base name the circuit was made from (selects the per-circuit classifier).
    public var baseName: String { identity.baseName }
    /// The tenant context the breaker was made with (passed to the state-change callback).
    public var context: [String: String] { identity.context }

    /// Runs `work` if the circuit admits it and records its outcome; returns its value or rethrows its error as is.
    ///
    /// - Throws: ``CircuitRejected`` when the circuit rejects the call (the work is not run); a
    ///   ``CircuitStoreError`` when the store fails before the work and the policy is
    ///   ``StorageFailurePolicy/failClosed``; otherwise whatever `work` throws. A failure to record the outcome
    ///   after the work ran is logged and counted, never thrown.
    public func execute<T>(
        isolation: isolated (any Actor)? = #isolation, _ work: () async throws -> T
    ) async throws -> T {
        let permit = try await acquire()
        let started = ContinuousClock.now
        let result: Result<T, any Error>
        do {
            result = .success(try await work())
        } catch {
            result = .failure(error)
        }
        let duration = ContinuousClock.now - started
        let outcome: CallOutcome
        switch result {
        case .success: outcome = .success
        case .failure(let error): outcome = classify(error)
        }
        await engine.recordReportingErrors(outcome, permit: permit, duration: duration, circuit: identity)
        return try result.get()
    }

    /// Asks for leave to run one call (the first half of the two-step form).
    ///
    /// Report the outcome with ``record(_:for:duration:)`` or ``record(error:for:duration:)``. A probe that is never
    /// reported counts as a failure when its lease expires (``BreakerSettings/probeTimeout``).
    /// - Throws: ``CircuitRejected`` when the call may not run, or a ``CircuitStoreError`` (policy
    ///   ``StorageFailurePolicy/failClosed``).
    public func acquire() async throws -> CircuitPermit {
        try await engine.acquire(identity)
    }

    /// Records how the call of `permit` ended (the second half of the two-step form).
    ///
    /// An outcome for a permit of an older generation is discarded: the circuit has moved on since.
    /// - Parameters:
    ///   - outcome: How the call counts: ``CallOutcome/success``, ``CallOutcome/failure``,
    ///     ``CallOutcome/failure(openUntil:)`` or ``CallOutcome/ignored``.
    ///   - permit: The permit ``acquire()`` returned for the call.
    ///   - duration: How long the work ran, for slow-call detection; when `nil`, the time since the permit
    ///     was admitted counts (by the store's clock).
    /// - Throws: a ``CircuitStoreError`` if the store fails.
    public func record(_ outcome: CallOutcome, for permit: CircuitPermit, duration: Duration? = nil) async throws {
        try await engine.record(outcome, permit: permit, duration: duration, circuit: identity)
    }

    /// Records a call that ended with `error`, classified as ``execute(isolation:_:)`` would.
    public func record(error: any Error, for permit: CircuitPermit, duration: Duration? = nil) async throws {
        try await record(classify(error), for: permit, duration: duration)
    }

    /// How this circuit counts `error`: its own classifier, then the fallback, then the built-in rules.
    public func classify(_ error: any Error) -> CallOutcome {
        let configuration = engine.configuration
        if let own = configuration.classifiers[baseName], let outcome = own(error) { return outcome }
        if let fallback = configuration.fallbackClassifier, let outcome = fallback(error) { return outcome }
        return BuiltInClassification.classify(error)
    }

    /// The circuit's state now, read without changing anything.
    public func state() async throws -> CircuitState {
        try await snapshot().state
    }

    /// The circuit as it stands now, read without changing anything.
    public func snapshot() async throws -> CircuitSnapshot {
        try await engine.snapshot(identity)
    }
}
