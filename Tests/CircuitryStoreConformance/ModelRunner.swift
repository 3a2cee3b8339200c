import Circuitry
import Foundation
import Logging
import Synchronization

/// Runs ``ModelScenario``s against a store and checks, after every step, what must always hold:
///
/// - nothing traps, whatever the permits, times and overrides (a trap ends the test process);
/// - a half-open period never has more than `closeThreshold` probes out or succeeded, counting every factory;
/// - within one life of a circuit its generation never goes backwards, and a later life (after `forget` or
///   `prune`) never reuses a generation of an earlier one, so a stale permit cannot count in it;
/// - an outcome is counted at most once: a generation's stored counts never exceed the reports made for it (a probe
///   reported twice gives one report);
/// - no deadline is further ahead than the settings allow, even after the clock stepped back: a lease at most the
///   probe timeout, an open period (not forced) at most the longest the policy or an upstream gives, a reset
///   interval at most its length;
/// - every transition follows from the state the previous one left (after `forget` or `prune`: closed), and each is
///   called back exactly once.
///
/// A scenario that is not wild also runs twice more, and the final states must match:
/// - **eagerly**: before every step the clock stops at each deadline that the step's time passes, and the circuit is
///   evaluated there, as a timer would have fired. The lazy run must end with the same records and the same
///   transitions (state, generation, reason and instant).
/// - **without batching** (every success written at once): after a final flush, the same records and transitions.
public struct ModelRunner: Sendable {
    let store: any CircuitStore
    let clock: ManualClock

    /// A runner over `store`, whose time is `clock`. Scenarios use names of their own, so one store serves many.
    public init(store: any CircuitStore, clock: ManualClock) {
        self.store = store
        self.clock = clock
    }

    /// What a scenario exercised (in its lazy run), to say what a number of scenarios covered.
    public struct Coverage: Sendable, CustomStringConvertible {
        /// Transitions committed, by the state they led to.
        public var transitions: [CircuitState: Int] = [:]
        /// Probes admitted, reports made and reports that the rules dropped (stale, repeated, forged).
        public var probes = 0, reports = 0, dropped = 0
        /// Circuits forgotten or pruned, and backward clock steps.
        public var lifeEnds = 0, backwardSteps = 0
        /// Scenarios also run eagerly and unbatched, and compared.
        public var compared = 0

        /// Nothing covered yet.
        public init() {}

        /// Adds another scenario's coverage.
        public mutating func add(_ other: Coverage) {
            transitions.merge(other.transitions, uniquingKeysWith: +)
            probes += other.probes
            reports += other.reports
            dropped += other.dropped
            lifeEnds += other.lifeEnds
            backwardSteps += other.backwardSteps
            compared += other.compared
        }

        /// One line of totals.
        public var description: String {
            let byState = [CircuitState.open, .halfOpen, .closed].map { "\($0) \(transitions[$0] ?? 0)" }
            return "transitions to \(byState.joined(separator: ", ")); \(probes) probes; \(reports) reports, "
                + "\(dropped) of them dropped; \(lifeEnds) forgotten or pruned; \(backwardSteps) backward clock steps; "
                + "\(compared) compared eagerly and unbatched"
        }
    }

    /// Runs `scenario` (and its comparison runs); throws a ``ConformanceFailure`` naming the first broken property.
    @discardableResult
    public func check(_ scenario: ModelScenario) async throws -> Coverage {
        try await check(scenario, attempt: 0, start: scenario.start ?? clock.now())
    }

    private func check(_ scenario: ModelScenario, attempt: Int, start: Timestamp) async throws -> Coverage {
        let lazy = try await run(scenario, mode: .lazy, tag: "\(scenario.seed).\(attempt).l", start: start)
        guard !scenario.wild else { return lazy.coverage }
        let eager = try await run(scenario, mode: .eager, tag: "\(scenario.seed).\(attempt).e", start: start)
        try expectSameEnd(lazy, eager, "lazy and eager (timer) evaluation")
        let unbatched = try await run(scenario, mode: .unbatched, tag: "\(scenario.seed).\(attempt).u", start: start)
        try expectSameEnd(lazy, unbatched, "batched and unbatched runs after a flush")
        var coverage = lazy.coverage
        coverage.compared = 1
        return coverage
    }

    /// Checks `scenario`; when it fails, looks for a shorter scenario that fails too (by dropping steps) and throws
    /// the failure of the shortest, with its steps.
    @discardableResult
    public func checkShrinking(_ scenario: ModelScenario) async throws -> Coverage {
        let start = scenario.start ?? clock.now()
        do {
            return try await check(scenario, attempt: 0, start: start)
        } catch let first {
            var smallest = scenario
            var failure = first
            var attempt = 1
            var index = smallest.steps.count - 1
            while index >= 0 {
                var candidate = smallest
                candidate.steps.remove(at: index)
                do {
                    _ = try await check(candidate, attempt: attempt, start: start)
                } catch {
                    smallest = candidate
                    failure = error
                }
                attempt += 1
                index = min(index - 1, smallest.steps.count - 1)
            }
            throw ConformanceFailure(message: "\(failure)\nshortest failing scenario:\n\(smallest)", line: #line)
        }
    }

    // MARK: One run

    enum Mode { case lazy, eager, unbatched }

    /// How a run ended: per circuit (by its base index), the stored record and the transitions.
    struct End {
        var records: [Int: CircuitRecord?]
        var history: [Int: [String]]
        var callbacks: Int
        var coverage: Coverage
    }

    private func run(_ scenario: ModelScenario, mode: Mode, tag: String, start: Timestamp) async throws -> End {
        clock.set(to: start)
        let state = RunState(scenario: scenario, tag: tag)
        let nonces = Nonces(seed: scenario.seed)
        let events = Events()
        let factories = try (0..<scenario.factories).map { index in
            var configuration = BreakerFactory.Configuration(settings: scenario.settings)
            configuration.maximumBatchedSuccesses = mode == .unbatched ? 1 : 4
            configuration.successFlushInterval = .seconds(3600)
            configuration.actor = "model"
            configuration.naming = { base, _ in "\(tag)/\(base)" }
            configuration.randomSource = { nonces.next() }
            configuration.onStateChange = { events.append($0) }
            return try BreakerFactory(store: store, configuration: configuration, logger: Logger(label: "model"))
        }
        for (index, step) in scenario.steps.enumerated() {
            nonces.start(step: index)
            do {
                if mode == .eager, case .advance(let milliseconds) = step {
                    let target = clock.now() + .milliseconds(max(0, milliseconds))
                    try await fireDeadlines(until: target, state, factories[0])
                    clock.set(to: target)
                } else {
                    try await apply(step, state, factories)
                }
                try await checkInvariants(state, factories[0], events)
            } catch let failure as ConformanceFailure {
                throw ConformanceFailure(
                    message: "\(mode) run, step \(index) (\(step)): \(failure.message)\n\(scenario)", line: failure.line
                )
            }
        }
        // A last look at every circuit commits what time changed since the last write, as the timers would have.
        for factory in factories { try await factory.flush() }
        for circuit in 0..<scenario.circuits { try await factories[0].commitElapsedTime(of: state.name(circuit)) }
        try await checkInvariants(state, factories[0], events)
        var end = End(records: [:], history: [:], callbacks: events.all.count, coverage: state.coverage)
        for circuit in 0..<scenario.circuits {
            let name = state.name(circuit)
            var record = try await store.read(name).record
            record?.updatedAt = Timestamp(millisecondsSince1970: 0)
            end.records[circuit] = record
            end.history[circuit] = try await store.history(of: name, afterID: nil, limit: 1000).map {
                let t = $0.transition
                return "\(t.from)>\(t.to) g\(t.generation) at \(t.at.millisecondsSince1970) \(t.reason)"
            }
        }
        return end
    }

    /// Stops the clock at every deadline up to `target`, in order, and evaluates the circuit there.
    private func fireDeadlines(until target: Timestamp, _ state: RunState, _ factory: BreakerFactory) async throws {
        // Each round applies the earliest deadline of all circuits; a circuit has at most a few per step.
        for _ in 0..<10_000 {
            var earliest: (Timestamp, String)?
            for circuit in 0..<state.scenario.circuits {
                let name = state.name(circuit)
                guard let record = try await store.read(name).record, let deadline = deadline(of: record),
                    deadline <= target, earliest.map({ deadline < $0.0 }) ?? true
                else { continue }
                earliest = (deadline, name)
            }
            guard let (deadline, name) = earliest else { break }
            clock.set(to: max(deadline, clock.now()))
            try await factory.commitElapsedTime(of: name)
        }
    }

    private func deadline(of record: CircuitRecord) -> Timestamp? {
        switch record.state {
        case .open: record.expiresAt
        case .halfOpen: record.probes.map(\.deadline).min()
        case .closed: record.expiresAt
        }
    }

    // MARK: Steps

    private func apply(_ step: ModelScenario.Step, _ state: RunState, _ factories: [BreakerFactory]) async throws {
        let scenario = state.scenario
        switch step {
        case .acquire(let factory, let circuit):
            let breaker = try factories[factory].breaker(for: "c\(circuit)")
            do {
                let permit = try await breaker.acquire()
                state.held.append(Held(permit: permit, factory: factory, circuit: circuit))
                try state.observe(permit.generation, circuit: circuit)
                if permit.isProbe {
                    state.probes[RunState.Key(circuit, permit.generation), default: (0, 0)].admitted += 1
                    state.coverage.probes += 1
                }
            } catch is CircuitRejected {}
        case .report(let pick, let outcome, let milliseconds):
            let unreported = state.held.indices.filter { !state.held[$0].reported }
            guard !unreported.isEmpty else { return }
            let index = unreported[pick % unreported.count]
            try await report(index, outcome, milliseconds, state, factories)
        case .reportAgain(let pick, let outcome):
            let again = state.held.indices.filter { state.held[$0].reported && state.held[$0].permit.isProbe }
            guard !again.isEmpty else { return }
            try await report(again[pick % again.count], outcome, nil, state, factories)
        case .forged(let factory, let circuit, let forgery, let lease, let admittedAt):
            let name = state.name(circuit)
            let generation: Int64
            switch forgery {
            case .current: generation = try await factories[0].snapshot(of: name)?.record.generation ?? 1
            case .value(let value): generation = value
            }
            let json = """
                {"circuit":\(String(reflecting: name)),"generation":\(generation),\
                "lease":\(lease.map(String.init) ?? "null"),"admittedAt":{"millisecondsSince1970":\(admittedAt)},\
                "isRecorded":true}
                """
            let permit = try JSONDecoder().decode(CircuitPermit.self, from: Data(json.utf8))
            state.held.append(Held(permit: permit, factory: factory, circuit: circuit, forged: true))
            try await report(state.held.count - 1, .failure, nil, state, factories)
        case .forceOpen(let circuit, let milliseconds):
            if let milliseconds {
                // On the store's clock; at the end of time the end saturates to now, which `until:` would refuse.
                try await factories[0].forceOpen(state.name(circuit), for: .milliseconds(milliseconds), reason: "model")
            } else {
                try await factories[0].forceOpen(state.name(circuit), until: nil, reason: "model")
            }
        case .forceClosed(let circuit):
            try await factories[0].forceClosed(state.name(circuit), reason: "model")
        case .reset(let circuit):
            try await factories[0].reset(state.name(circuit))
        case .forget(let circuit):
            let removed = try await factories[0].forget(state.name(circuit))
            try await followHistory(state)  // what `forget` committed before removing
            if removed { state.endLife(circuit) }
        case .prune(let milliseconds):
            let pruned = Set(try await factories[0].prune(idleFor: .milliseconds(milliseconds)))
            try await followHistory(state)
            for circuit in 0..<scenario.circuits where pruned.contains(state.name(circuit)) { state.endLife(circuit) }
        case .flush(let factory):
            try await factories[factory].flush()
        case .advance(let milliseconds):
            clock.advance(by: .milliseconds(max(0, milliseconds)))
        case .stepBack(let milliseconds):
            clock.advance(by: .milliseconds(-milliseconds))
            state.coverage.backwardSteps += 1
        }
    }

    private func report(
        _ index: Int, _ outcome: ModelScenario.Outcome, _ milliseconds: Int64?, _ state: RunState,
        _ factories: [BreakerFactory]
    ) async throws {
        let held = state.held[index]
        let breaker = try factories[held.factory].breaker(for: "c\(held.circuit)")
        let permit = held.permit
        // What the report may add to its generation's counts: a probe's outcome counts once. A success slower than
        // `slowCallDuration` (timed from admission by the store's clock when no duration is given) is a failure.
        let key = RunState.Key(held.circuit, permit.generation)
        if !(held.reported && permit.isProbe) {
            let took = milliseconds.map { Duration.milliseconds($0) } ?? (clock.now() - permit.admittedAt)
            let slow = state.scenario.settings.slowCallDuration.map { took > $0 } ?? false
            switch outcome {
            case .success where slow: state.allowance[key, default: (0, 0)].failures += 1
            case .success: state.allowance[key, default: (0, 0)].successes += 1
            case .failure, .failureOpenFor: state.allowance[key, default: (0, 0)].failures += 1
            case .ignored: break
            }
        }
        // Whether the rules will take the report: its generation is current, and its lease is held (a probe) or the
        // circuit is closed (any other call).
        let current = try await factories[0].snapshot(of: permit.circuit)?.record
        let leaseHeld = current?.probes.contains { $0.id == permit.lease } ?? false
        let taken =
            current?.generation == permit.generation
            && (permit.isProbe ? leaseHeld && !held.reported : current?.state == .closed)
        state.coverage.reports += 1
        if !taken { state.coverage.dropped += 1 }
        if outcome == .ignored, permit.isProbe, taken { state.probes[key, default: (0, 0)].released += 1 }
        state.held[index].reported = true
        let call: CallOutcome
        switch outcome {
        case .success: call = .success
        case .failure: call = .failure
        case .ignored: call = .ignored
        case .failureOpenFor(let wait): call = .failure(openUntil: clock.now() + .milliseconds(wait))
        }
        try await breaker.record(call, for: permit, duration: milliseconds.map { .milliseconds($0) })
    }

    // MARK: Invariants

    private func checkInvariants(_ state: RunState, _ factory: BreakerFactory, _ events: Events) async throws {
        let settings = state.scenario.settings
        for circuit in 0..<state.scenario.circuits {
            let name = state.name(circuit)
            let (stored, now) = try await store.read(name)
            guard let stored, let snapshot = try await factory.snapshot(of: name) else { continue }
            let record = snapshot.record
            // Stored generations never go back within a life; no generation, stored or as evaluated now, is one of an
            // earlier life. (An evaluation is a view: after a backward clock step it may show less than an earlier one.)
            try state.observe(stored.generation, circuit: circuit)
            try state.checkNotEarlierLife(record.generation, circuit: circuit)
            for counted in [stored, record] {
                let allowed = state.allowance[RunState.Key(circuit, counted.generation)] ?? (0, 0)
                try expect(
                    counted.counts.successes <= allowed.successes && counted.counts.failures <= allowed.failures,
                    "\(name) generation \(counted.generation) counts \(counted.counts); reports made: \(allowed)")
                if counted.state == .halfOpen {
                    let probes = state.probes[RunState.Key(circuit, counted.generation)] ?? (0, 0)
                    try expect(
                        Int64(counted.probes.count) + counted.counts.consecutiveSuccesses
                            <= Int64(settings.closeThreshold)
                            && probes.admitted - probes.released <= settings.closeThreshold,
                        "\(name) half-open generation \(counted.generation): \(counted.probes.count) leases, "
                            + "\(counted.counts.consecutiveSuccesses) successes, probes admitted and released \(probes)"
                    )
                }
            }
            for lease in record.probes {
                try expect(
                    lease.deadline <= now + settings.probeTimeout, "\(name) lease \(lease) beyond the probe timeout")
            }
            switch (record.state, record.override) {
            case (.open, .forcedOpen?):
                break
            case (.open, _):
                try expect(
                    record.expiresAt.map { $0 <= now + state.scenario.longestOpen } ?? false,
                    "\(name) open until \(String(describing: record.expiresAt)), more than \(state.scenario.longestOpen) "
                        + "after \(now)")
            case (.closed, _):
                if let interval = settings.resetInterval {
                    try expect(
                        record.expiresAt.map { $0 <= now + interval } ?? false,
                        "\(name) reset interval ends at \(String(describing: record.expiresAt)), after \(now) + \(interval)"
                    )
                }
            case (.halfOpen, _):
                break
            }
        }
        try await followHistory(state)
        try expectEqual(events.all.count, state.transitions, "callbacks for the transitions committed")
    }

    /// Reads the transitions committed since the last call: each must follow from the state the last one left.
    private func followHistory(_ state: RunState) async throws {
        let entries = try await store.history(of: nil, afterID: state.lastHistoryID, limit: 10_000)
        for entry in entries {
            state.lastHistoryID = max(state.lastHistoryID, entry.id)
            guard let circuit = state.circuit(named: entry.transition.circuit) else { continue }
            state.transitions += 1
            state.coverage.transitions[entry.transition.to, default: 0] += 1
            let expected = state.lastState[circuit] ?? .closed
            try expect(
                entry.transition.from == expected,
                "transition \(entry.transition.from) > \(entry.transition.to) of \(entry.transition.circuit) "
                    + "follows one that left it \(expected)")
            state.lastState[circuit] = entry.transition.to
        }
    }

    private func expectSameEnd(_ first: End, _ second: End, _ what: String) throws {
        for circuit in first.records.keys.sorted() {
            let a = first.records[circuit] ?? nil
            let b = second.records[circuit] ?? nil
            try expect(
                a.map(comparable) == b.map(comparable),
                "\(what): circuit c\(circuit) ends as \(String(describing: a)) and \(String(describing: b))")
            try expect(
                first.history[circuit] == second.history[circuit],
                "\(what): circuit c\(circuit) history \(first.history[circuit] ?? []) and \(second.history[circuit] ?? [])"
            )
        }
        try expectEqual(first.callbacks, second.callbacks, "\(what): callbacks")
    }

    /// The record without its name (the runs use their own) and its write time.
    private func comparable(_ record: CircuitRecord) -> CircuitRecord {
        var record = record
        record.name = ""
        return record
    }
}

/// A permit the scenario holds.
struct Held {
    var permit: CircuitPermit
    var factory: Int
    var circuit: Int
    var forged = false
    var reported = false
}

/// What one run has seen. Used by one task at a time (the run's own), step after step.
final class RunState: @unchecked Sendable {
    let scenario: ModelScenario
    let tag: String
    var held: [Held] = []
    /// A circuit's generation.
    struct Key: Hashable {
        var circuit: Int
        var generation: Int64
        init(_ circuit: Int, _ generation: Int64) {
            self.circuit = circuit
            self.generation = generation
        }
    }

    /// Reports made per generation: what its counts may reach.
    var allowance: [Key: (successes: Int64, failures: Int64)] = [:]
    /// Probes admitted per half-open generation, and those whose lease an ignored report released.
    var probes: [Key: (admitted: Int, released: Int)] = [:]
    /// The generations of the circuit's current life (lowest, highest) and of its earlier lives.
    var life: [Int: (low: Int64, high: Int64)] = [:]
    var earlierLives: [Int: [(low: Int64, high: Int64)]] = [:]
    var lastState: [Int: CircuitState] = [:]
    var lastHistoryID: Int64 = 0
    var transitions = 0
    var coverage = ModelRunner.Coverage()

    init(scenario: ModelScenario, tag: String) {
        self.scenario = scenario
        self.tag = tag
    }

    func name(_ circuit: Int) -> String { "\(tag)/c\(circuit)" }

    func circuit(named name: String) -> Int? {
        (0..<scenario.circuits).first { self.name($0) == name }
    }

    /// The circuit's record was removed: its next life starts closed, with generations of its own.
    func endLife(_ circuit: Int) {
        coverage.lifeEnds += 1
        if let current = life.removeValue(forKey: circuit) { earlierLives[circuit, default: []].append(current) }
        lastState[circuit] = .closed
    }

    /// A generation the circuit's current life wrote: never below one it wrote before, never one of an earlier life.
    func observe(_ generation: Int64, circuit: Int) throws {
        try checkNotEarlierLife(generation, circuit: circuit)
        guard let current = life[circuit] else {
            life[circuit] = (generation, generation)
            return
        }
        try expect(
            generation >= current.high, "c\(circuit) generation \(generation) after \(current.high) in the same life")
        life[circuit] = (current.low, generation)
    }

    func checkNotEarlierLife(_ generation: Int64, circuit: Int) throws {
        for earlier in earlierLives[circuit] ?? [] {
            try expect(
                !(earlier.low...earlier.high).contains(generation),
                "c\(circuit) generation \(generation) belongs to an earlier life (\(earlier.low)...\(earlier.high))")
        }
    }
}

/// Random numbers that repeat per step: the same step of the same scenario draws the same lease ids and first
/// generations in every run, however many draws the runs made before.
final class Nonces: Sendable {
    private let state: Mutex<(seed: UInt64, step: Int, draws: UInt64)>

    init(seed: UInt64) { state = Mutex((seed, 0, 0)) }

    func start(step: Int) { state.withLock { $0 = ($0.seed, step, 0) } }

    func next() -> UInt64 {
        state.withLock { state in
            state.draws += 1
            var generator = SeededGenerator(seed: state.seed ^ (UInt64(state.step) << 16) ^ (state.draws << 56))
            return generator.next()
        }
    }
}
