import CoreMetrics
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a breaker does when its store fails before the work runs.
public enum StorageFailurePolicy: Sendable, Hashable {
    /// Throw the store's error; the work is not run. The default: a broken store does not hide a broken upstream.
    case failClosed
    /// Run the work without the breaker; its outcome is not recorded.
    case failOpen
}

/// A change of state, as the state-change callback receives it.
public struct StateChange: Sendable, Hashable {
    /// The committed transition (circuit name, from, to, reason, generation, time, process).
    public var transition: CircuitTransition
    /// The tenant context of the breaker whose call committed it (empty for operator actions).
    public var context: [String: String]
}

/// Makes breakers that share their state through a store: one factory per process and store.
///
/// ```swift
/// let store = try SQLiteCircuitStore(path: "/var/lib/jobs/breakers.sqlite")
/// var configuration = BreakerFactory.Configuration()
/// configuration.naming = { base, context in "\(base)/\(context["tenant"] ?? "-")" }
/// let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)
///
/// let breaker = try breakers.breaker(for: "send-email", context: ["tenant": job.tenant])
/// try await breaker.execute { try await mailer.send(job.message) }
/// ```
public final class BreakerFactory: Sendable {
    /// Everything a factory is configured with. Every process that shares circuits should use the same settings.
    public struct Configuration: Sendable {
        /// Thresholds and durations of every base name without settings of its own in ``settingsByBaseName``. See
        /// ``BreakerSettings`` for the defaults.
        public var settings: BreakerSettings
        /// Settings by base name, for the circuits made from it (every tenant's `send-email/…` when the base name is
        /// `send-email`); base names not listed use ``settings``. Like ``classifiers``, so that one factory (one batch
        /// of successes, one metrics cache) serves upstreams that need different thresholds.
        ///
        /// An operation by name (``BreakerFactory/forceOpen(_:until:reason:)``, ``BreakerFactory/reset(_:)``,
        /// ``BreakerFactory/snapshot(of:)`` and the like) has no base name: it uses the settings listed under the name
        /// itself (the base name, with the default naming function), else ``settings``.
        public var settingsByBaseName: [String: BreakerSettings]
        /// The circuit name for a base name and a tenant context. Default: the base name.
        public var naming: @Sendable (_ baseName: String, _ context: [String: String]) -> String
        /// Classifiers by base name; they come before ``fallbackClassifier``.
        public var classifiers: [String: OutcomeClassifier]
        /// The classifier for circuits without one of their own; `nil` leaves it to the built-in rules.
        public var fallbackClassifier: OutcomeClassifier?
        /// Called once per transition, in the process that committed it, after the commit.
        public var onStateChange: (@Sendable (StateChange) -> Void)?
        /// What to do when the store fails before the work runs. Default ``StorageFailurePolicy/failClosed``.
        public var storageFailurePolicy: StorageFailurePolicy
        /// The most successes of one circuit this process batches before writing them. Default 1,000; 1 writes
        /// every success.
        public var maximumBatchedSuccesses: Int
        /// The longest this process keeps batched successes before writing them (checked as calls arrive).
        /// Default 1 s.
        public var successFlushInterval: Duration
        /// How old this process's view of a closed circuit may be when it admits a call from it instead of asking the
        /// store. Default `nil`: every admission asks the store. Meant for server stores, where each question is a
        /// network round trip; the SQLite store answers an unchanged circuit from memory already.
        ///
        /// With a bound set (for example 100 ms), a process remembers the record of each circuit it last read or wrote,
        /// and while that record is closed and at most this old, it admits calls from it, and decides from it whether a
        /// success may be batched, without a round trip. A healthy call then costs no round trip, and a process asks
        /// the store about a busy healthy circuit about once per bound. Everything else goes to the store at once:
        /// failures and every other write, transitions, half-open probes, overrides, rejections (an open or
        /// half-open circuit is always asked about), operators' reads. Every answer of the store refreshes the view,
        /// so a process that wrote a failure, a trip or an override, or was rejected, acts on it at once.
        ///
        /// What the bound weakens, by exactly the bound and no more:
        /// - After another process opens the circuit (or an operator forces it open), this process may admit calls
        ///   for up to `maximumStaleness`. Their failures are written at once, find the circuit open and are not
        ///   counted; that write shows this process the open circuit, so each process runs at most one such failing
        ///   call per call in flight, as without the bound.
        /// - Those calls carry the earlier closed generation: an outcome of theirs is not counted toward the new one.
        /// - After another process forgets or prunes the circuit, this process may admit calls from its view of the earlier
        ///   life for up to the bound; their outcomes belong to that life and are dropped, as those of calls admitted
        ///   before a ``BreakerFactory/forget(_:)`` always are.
        /// - A success that comes within the bound after another process's failure may be batched instead of written,
        ///   and is then counted as having come before that failure (it does not end its run of consecutive
        ///   failures).
        ///
        /// What it keeps: no outcome is lost (failures are written at once, successes batched as always, counts exact
        /// after a flush); at most ``BreakerSettings/closeThreshold`` probes per half-open period; each transition
        /// committed, recorded and called back once. Must be shorter than every ``BreakerSettings/openDuration`` of
        /// the factory (a longer bound could admit calls for a whole open period).
        public var maximumStaleness: Duration?
        /// Names this process in the transition history. Default `pid <pid> on <host name>`.
        public var actor: String
        /// Who this factory's failures come from, for ``BreakerSettings/minimumReporters``: processes (the default,
        /// `pid <pid> on <host name>`, one per process) or, if every process of a host should count as one, the host
        /// name. Only its hash is stored (``FailureReporter/id(of:)``).
        public var reporter: String
        /// What the `circuit` dimension of the metrics carries. Default ``MetricsDimension/baseName``.
        public var metricsDimension: MetricsDimension
        /// The swift-metrics backend. Default `nil`: whatever the application bootstrapped (`MetricsSystem`).
        public var metricsFactory: (any MetricsFactory)?
        /// Random numbers for probe lease ids and first generations: the system's generator. Tests that replay a
        /// sequence of operations make it repeatable.
        package var randomSource: @Sendable () -> UInt64 = { UInt64.random(in: .min ... .max) }
        /// The monotonic clock that measures how old a batch of successes is. Tests inject one.
        package var monotonicClock: @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }

        /// Creates a configuration with the defaults.
        public init(settings: BreakerSettings = BreakerSettings()) {
            self.settings = settings
            self.settingsByBaseName = [:]
            self.naming = { base, _ in base }
            self.classifiers = [:]
            self.fallbackClassifier = nil
            self.onStateChange = nil
            self.storageFailurePolicy = .failClosed
            self.maximumBatchedSuccesses = 1000
            self.successFlushInterval = .seconds(1)
            self.maximumStaleness = nil
            self.actor = Self.defaultActor
            self.reporter = Self.defaultActor
            self.metricsDimension = .baseName
            self.metricsFactory = nil
        }

        static var defaultActor: String {
            var buffer = [CChar](repeating: 0, count: 256)
            let found = gethostname(&buffer, buffer.count) == 0
            let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            let host = found ? String(decoding: bytes, as: UTF8.self) : "unknown host"
            return "pid \(getpid()) on \(host)"
        }
    }

    let engine: BreakerEngine

    /// Creates a factory over `store`; throws a ``ConfigurationError`` if a setting is out of range.
    ///
    /// - Parameters:
    ///   - store: Where the circuits live: a ``SQLiteCircuitStore`` shared by the processes of a host, a server
    ///     store, or an ``InMemoryCircuitStore`` in tests.
    ///   - configuration: Settings, naming, classifiers, callbacks and batching; every process that shares circuits
    ///     should use the same.
    ///   - logger: Where the library logs (transitions at debug; storage failures after the work at info).
    ///     The library never bootstraps logging or metrics.
    public init(store: any CircuitStore, configuration: Configuration = Configuration(), logger: Logger) throws {
        try configuration.settings.validate()
        for (baseName, settings) in configuration.settingsByBaseName.sorted(by: { $0.key < $1.key }) {
            do {
                try settings.validate()
            } catch {
                let setting = "settingsByBaseName[\(baseName.debugDescription)].\(error.setting)"
                throw ConfigurationError(setting: setting, message: error.message)
            }
        }
        guard configuration.maximumBatchedSuccesses >= 1 else {
            throw ConfigurationError.invalidSetting(
                "maximumBatchedSuccesses", "\(configuration.maximumBatchedSuccesses)", expected: "at least 1")
        }
        guard configuration.successFlushInterval >= .zero else {
            throw ConfigurationError.invalidSetting(
                "successFlushInterval", "\(configuration.successFlushInterval)", expected: "not negative")
        }
        if let staleness = configuration.maximumStaleness {
            let shortestOpen =
                ([configuration.settings] + configuration.settingsByBaseName.values).map(\.openDuration)
                .min() ?? configuration.settings.openDuration
            guard staleness.milliseconds >= 1, staleness < shortestOpen else {
                throw ConfigurationError.invalidSetting(
                    "maximumStaleness", "\(staleness)",
                    expected: "at least 1 millisecond and shorter than the shortest openDuration, \(shortestOpen)")
            }
        }
        engine = BreakerEngine(store: store, configuration: configuration, logger: logger)
    }

    /// The breaker for `baseName` and a tenant context: its circuit is `naming(baseName, context)`, in Unicode
    /// Normalization Form C (see ``CircuitName``).
    ///
    /// Cheap: a breaker is a small value; make one per job.
    /// - Throws: ``ConfigurationError`` if the resulting name is empty, too long or has control characters, format
    ///   characters or separators.
    public func breaker(for baseName: String, context: [String: String] = [:]) throws(ConfigurationError)
        -> CircuitBreaker
    {
        let name = try CircuitName.normalized(engine.configuration.naming(baseName, context))
        return CircuitBreaker(
            identity: engine.identity(name: name, baseName: baseName, context: context), engine: engine)
    }

    /// Writes every success this process has batched, so that the stored counts are exact.
    ///
    /// Successes of a circuit that was forgotten or pruned since they were counted are dropped. Call it before the
    /// process exits, unless ``flushUntilCancelled()`` runs (it flushes once more when it is cancelled).
    public func flush() async throws {
        for circuit in engine.batcher.circuits { try await engine.flush(circuit) }
    }

    /// Writes batched successes in the background of the application, until the task is cancelled: each circuit's
    /// batch once it is ``Configuration/successFlushInterval`` old, whether calls still arrive or not, and every batch
    /// once more when the task is cancelled (the final ``flush()``); then returns.
    ///
    /// Without it a batch is written only by the circuit's next write, by a call that finds it old or large, or by
    /// ``flush()``: an idle process's counts stay in the process, and a process that exits without ``flush()`` loses
    /// them. Run it for the life of the process:
    /// ```swift
    /// let flushing = Task { try await breakers.flushUntilCancelled() }
    /// // … the worker's life …
    /// flushing.cancel()
    /// try await flushing.value  // the final flush is written (or its error thrown)
    /// ```
    /// With swift-service-lifecycle, the `CircuitryServiceLifecycle` product makes the factory a `Service` whose
    /// `run()` is this method, ended by a graceful shutdown (SIGTERM) as well as by cancellation.
    ///
    /// A write that fails while running is logged (at info) and tried again after the flush interval (at least
    /// 100 ms); the batch stays in the process meanwhile.
    /// - Throws: The error of the final flush, if the store failed it: those successes are lost.
    public func flushUntilCancelled() async throws {
        let batcher = engine.batcher
        let interval = batcher.maximumAge
        var failed = false
        while !Task.isCancelled {
            // Until the oldest batch is due; with none, a batch begun now is due after one interval. After a failure,
            // not at once again: the store is likely still failing.
            let wait =
                failed
                ? max(interval, .milliseconds(100))
                : max(batcher.untilNextDue ?? max(interval, .milliseconds(10)), .milliseconds(1))
            do {
                try await Task.sleep(for: wait)
            } catch {
                break
            }
            failed = false
            for circuit in batcher.dueCircuits {
                do {
                    try await engine.flush(circuit)
                } catch {
                    failed = true
                    engine.logger.info(
                        "could not write batched successes; trying again later",
                        metadata: ["circuitry.circuit": "\(circuit.name)", "circuitry.error": "\(error)"])
                }
            }
        }
        // The task is cancelled now. Every store must complete a write in a cancelled task, but this is the last chance
        // for these successes: the final flush runs in a task of its own, which the cancellation does not reach (a
        // client that aborts requests of cancelled tasks would lose them), bounded by the store's own timeout.
        try await Task { try await self.flush() }.value
    }

    // MARK: Operating circuits by name

    /// The circuit's record as it stands now (an open circuit whose time is up shows as half-open), or `nil`.
    ///
    /// Like every operation by name, it looks the circuit up by the name's NFC form (see ``CircuitName``).
    public func snapshot(of name: String) async throws -> CircuitSnapshot? {
        try await engine.storedSnapshot(CircuitName.nfc(name))
    }

    /// Every stored circuit, as ``snapshot(of:)`` shows it, ordered by name.
    public func snapshots() async throws -> [CircuitSnapshot] {
        try await engine.snapshots()
    }

    /// Holds the circuit open in every process, until `until` or (if `nil`) until it is reset or forced closed.
    ///
    /// `until` is compared with the store's clock, which for a server store is the server's, not this host's: to hold
    /// a circuit open for a while, use ``forceOpen(_:for:reason:)``, which needs no clock here.
    /// - Throws: ``ConfigurationError`` (setting `until`) if `until` is not after the store's time now; the override
    ///   is then not applied.
    public func forceOpen(_ name: String, until: Timestamp? = nil, reason: String? = nil) async throws {
        let name = try CircuitName.normalized(name)
        let refusedAt: Timestamp? = try await engine.override(name) { machine, record, now, transitions in
            if let until, until <= now { return now }
            machine.forceOpen(&record, until: until, reason: reason, now: now, transitions: &transitions)
            return nil
        }
        if let refusedAt, let until {
            throw ConfigurationError.invalidSetting(
                "until", "\(until)", expected: "a time after the store's time now, \(refusedAt)")
        }
    }

    /// Holds the circuit open in every process for `duration`, counted from the store's time now (the server's, for
    /// a server store), so that a host whose clock is off holds it open exactly as long. Returns when it ends.
    /// - Throws: ``ConfigurationError`` (setting `duration`) if `duration` is not longer than zero.
    @discardableResult
    public func forceOpen(_ name: String, for duration: Duration, reason: String? = nil) async throws -> Timestamp {
        let name = try CircuitName.normalized(name)
        guard duration > .zero else {
            throw ConfigurationError.invalidSetting("duration", "\(duration)", expected: "longer than zero")
        }
        return try await engine.override(name) { machine, record, now, transitions in
            let until = now + duration
            machine.forceOpen(&record, until: until, reason: reason, now: now, transitions: &transitions)
            return until
        }
    }

    /// Holds the circuit closed in every process until it is reset: calls are admitted and it never trips.
    public func forceClosed(_ name: String, reason: String? = nil) async throws {
        let name = try CircuitName.normalized(name)
        try await engine.override(name) { machine, record, now, transitions in
            machine.forceClosed(&record, reason: reason, now: now, transitions: &transitions)
        }
    }

    /// Closes the circuit with zero counts in a new generation and removes any override.
    public func reset(_ name: String) async throws {
        let name = try CircuitName.normalized(name)
        try await engine.override(name) { machine, record, now, transitions in
            machine.reset(&record, now: now, transitions: &transitions)
        }
    }

    /// Removes the circuit's record; its next call starts a fresh closed circuit. Returns whether it existed.
    ///
    /// Outcomes of calls admitted before, reported after, are dropped: the new circuit starts in a generation its
    /// earlier life never had (see ``CircuitRecord/generation``). Transitions that time made since the circuit was
    /// last written (an open period that ended, a lease that expired) are committed first, as timers would have
    /// committed them, so the history and the callbacks miss none. A record stored by an earlier version under a name
    /// that is not in NFC is removed too when `name` is given in that exact form.
    @discardableResult
    public func forget(_ name: String) async throws -> Bool {
        let normal = CircuitName.nfc(name)
        _ = engine.batcher.take(normal)
        try await engine.flush(engine.identity(named: normal))
        var removed = try await engine.store.remove(normal)
        engine.view?.forget(normal)
        if !normal.utf8.elementsEqual(name.utf8) { removed = try await engine.store.remove(name) || removed }
        return removed
    }

    /// Removes the records of closed circuits (without an override) that nothing has written for `idleFor`, as
    /// thousands of tenants leave thousands of rows behind; returns their names. A pruned circuit that is used
    /// again starts fresh and closed, and outcomes of calls admitted before the prune are dropped (as for
    /// ``forget(_:)``). Successes batched in a process are not written, so a circuit with only successes since
    /// `idleFor` ago counts as idle.
    @discardableResult
    public func prune(idleFor: Duration) async throws -> [String] {
        guard idleFor >= .zero else {
            throw ConfigurationError.invalidSetting("idleFor", "\(idleFor)", expected: "not negative")
        }
        let removed = try await engine.store.removeIdle(idleFor: idleFor)
        for name in removed { engine.view?.forget(name) }
        return removed
    }

    /// Evaluates the circuit now and writes what the passing of time changed, with this process's batched successes,
    /// as a timer firing now would have. Tests compare lazy evaluation with it; nothing else needs it.
    package func commitElapsedTime(of name: String) async throws {
        try await engine.flush(engine.identity(named: CircuitName.nfc(name)))
    }

    /// The store's transition history: of one circuit or of all, oldest first (see ``CircuitStore/history(of:afterID:limit:)``).
    public func history(of name: String? = nil, afterID: Int64? = nil, limit: Int = 100) async throws
        -> [HistoryEntry]
    {
        try await engine.store.history(of: name.map(CircuitName.nfc), afterID: afterID, limit: max(0, limit))
    }
}
