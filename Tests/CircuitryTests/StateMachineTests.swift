import Testing

@testable import Circuitry

extension CallReport {
    static let failure = CallReport(outcome: .failure, admittedAt: Timestamp(millisecondsSince1970: 0))
    static let success = CallReport(outcome: .success, admittedAt: Timestamp(millisecondsSince1970: 0))
}

/// The pure rules, without any store: (record, event, now, settings) -> (record, decision).
@Suite struct StateMachineTests {
    let machine = CircuitStateMachine(
        settings: BreakerSettings(
            failureThreshold: 2, closeThreshold: 2, openDuration: .seconds(10), probeTimeout: .seconds(5)),
        actor: "test")
    let start = Timestamp(millisecondsSince1970: 1_000_000)

    func tripped() -> CircuitRecord {
        var record = CircuitRecord(name: "c", createdAt: start)
        var transitions: [CircuitTransition] = []
        for _ in 0..<2 {
            _ = machine.record(
                .failure, generation: record.generation, lease: nil, in: &record, now: start,
                transitions: &transitions)
        }
        return record
    }

    @Test func tripStartsANewGenerationAndCountsTheOpening() {
        let record = tripped()
        #expect(record.state == .open)
        #expect(record.generation == 2)
        #expect(record.counts == .zero)
        #expect(record.openAttempts == 1)
        #expect(record.expiresAt == start + .seconds(10))
    }

    @Test func decisionsThatNeedNoWrite() {
        let closed = CircuitRecord(name: "c", createdAt: start)
        #expect(machine.admitWithoutWriting(nil, now: start) == nil, "a circuit's first generation must be stored")
        #expect(machine.admitWithoutWriting(closed, now: start) == .admitted(generation: 1, lease: nil))
        let open = tripped()
        let rejected = machine.admitWithoutWriting(open, now: start + .seconds(9))
        #expect(
            rejected == .rejected(CircuitRejected(circuit: "c", reason: .open, retryAfter: start + .seconds(10))))
        #expect(machine.admitWithoutWriting(open, now: start + .seconds(10)) == nil, "due: needs a write")
    }

    @Test func successesAreBatchedOnlyWhenTheyChangeNoDecision() {
        var record = CircuitRecord(name: "c", createdAt: start)
        #expect(machine.canBatchSuccess(.success, record, generation: 1, now: start))
        #expect(!machine.canBatchSuccess(.success, record, generation: 0, now: start), "stale generation")
        var transitions: [CircuitTransition] = []
        _ = machine.record(.failure, generation: 1, lease: nil, in: &record, now: start, transitions: &transitions)
        #expect(
            !machine.canBatchSuccess(.success, record, generation: 1, now: start), "must reset the failures")
        #expect(!machine.canBatchSuccess(.success, tripped(), generation: 2, now: start), "open")
    }

    @Test func foldingBatchedSuccesses() {
        var record = CircuitRecord(name: "c", createdAt: start)
        var five = BatchedSuccesses(generation: 1, failures: 0)
        for _ in 0..<4 { five.add(failures: 0) }
        machine.fold(five, into: &record)
        #expect(record.counts.successes == 5 && record.counts.requests == 5 && record.counts.consecutiveSuccesses == 5)
        var older = five
        older.generation = 0
        machine.fold(older, into: &record)
        #expect(record.counts.successes == 5, "another generation's successes are dropped")
        var transitions: [CircuitTransition] = []
        _ = machine.record(.failure, generation: 1, lease: nil, in: &record, now: start, transitions: &transitions)
        var three = BatchedSuccesses(generation: 1, failures: 0)
        for _ in 0..<2 { three.add(failures: 0) }
        machine.fold(three, into: &record)
        #expect(record.counts.consecutiveFailures == 1, "a stored failure keeps its place in the run")
        #expect(record.counts.consecutiveSuccesses == 0)
        #expect(record.counts.successes == 8)
    }

    /// A success batched, a failure and a success written by another process, a success batched: as if each had been
    /// written when counted, the run of consecutive successes is the last two.
    @Test func batchedSuccessesBeforeAStoredFailureDoNotContinueTheRunAfterIt() {
        var record = CircuitRecord(name: "c", createdAt: start)
        var transitions: [CircuitTransition] = []
        var batch = BatchedSuccesses(generation: 1, failures: 0)
        _ = machine.record(.failure, generation: 1, lease: nil, in: &record, now: start, transitions: &transitions)
        _ = machine.record(.success, generation: 1, lease: nil, in: &record, now: start, transitions: &transitions)
        batch.add(failures: record.counts.failures)
        machine.fold(batch, into: &record)
        #expect(record.counts.successes == 3)
        #expect(record.counts.consecutiveSuccesses == 2)
    }

    @Test func anOpenCircuitIgnoresReports() {
        var record = tripped()
        var transitions: [CircuitTransition] = []
        let applied = machine.record(
            .failure, generation: record.generation, lease: nil, in: &record, now: start, transitions: &transitions)
        #expect(!applied)
        #expect(transitions.isEmpty)
    }

    @Test func aProbeWithoutItsLeaseIsDiscarded() {
        var record = tripped()
        var transitions: [CircuitTransition] = []
        machine.advance(&record, now: start + .seconds(10), transitions: &transitions)
        #expect(record.state == .halfOpen)
        let admission = machine.admit(&record, now: start + .seconds(10), leaseID: 42)
        #expect(admission == .admitted(generation: record.generation, lease: 42))
        let applied = machine.record(
            .failure, generation: record.generation, lease: 41, in: &record, now: start + .seconds(10),
            transitions: &transitions)
        #expect(!applied)
        #expect(record.state == .halfOpen)
        #expect(record.probes.map(\.id) == [42])
    }

    /// A closed circuit issues no leases: a report carrying one was forged, and must not count (however often).
    @Test func aClosedCircuitDiscardsAReportWithALease() {
        var record = CircuitRecord(name: "c", createdAt: start)
        var transitions: [CircuitTransition] = []
        for _ in 0..<3 {
            let applied = machine.record(
                .success, generation: 1, lease: 42, in: &record, now: start, transitions: &transitions)
            #expect(!applied)
        }
        #expect(record.counts == .zero)
    }

    @Test func resetOfAClosedCircuitStartsAGenerationWithoutATransition() {
        var record = CircuitRecord(name: "c", createdAt: start)
        var transitions: [CircuitTransition] = []
        _ = machine.record(.failure, generation: 1, lease: nil, in: &record, now: start, transitions: &transitions)
        machine.reset(&record, now: start, transitions: &transitions)
        #expect(transitions.isEmpty)
        #expect(record.generation == 2)
        #expect(record.counts == .zero)
    }

    @Test func transitionsSayWhoAndWhy() {
        var record = CircuitRecord(name: "c", createdAt: start)
        var transitions: [CircuitTransition] = []
        for _ in 0..<2 {
            _ = machine.record(
                .failure, generation: record.generation, lease: nil, in: &record, now: start,
                transitions: &transitions)
        }
        #expect(
            transitions == [
                CircuitTransition(
                    circuit: "c", from: .closed, to: .open, generation: 2, at: start,
                    reason: "2 consecutive failures", actor: "test")
            ])
    }
}

@Suite struct ValidationTests {
    @Test(arguments: [
        (BreakerSettings(failureThreshold: 0), "failureThreshold"),
        (BreakerSettings(failureThreshold: -3), "failureThreshold"),
        (BreakerSettings(closeThreshold: 0), "closeThreshold"),
        (BreakerSettings(closeThreshold: 101), "closeThreshold"),
        (BreakerSettings(openDuration: .zero), "openDuration"),
        (BreakerSettings(openDuration: .microseconds(999)), "openDuration"),
        (BreakerSettings(probeTimeout: .seconds(-1)), "probeTimeout"),
        (BreakerSettings(resetInterval: .zero), "resetInterval"),
        (BreakerSettings(openDurationPolicy: .exponential(factor: 0.5, maximum: .seconds(60))), "openDurationPolicy"),
        (BreakerSettings(openDurationPolicy: .exponential(maximum: .zero)), "openDurationPolicy"),
        (BreakerSettings(openDurationPolicy: .exponential(maximum: .seconds(1), jitter: 1)), "openDurationPolicy"),
        (BreakerSettings(slowCallDuration: .zero), "slowCallDuration"),
        (BreakerSettings(rateWindow: RateWindowPolicy(buckets: 0)), "rateWindow.buckets"),
        (BreakerSettings(rateWindow: RateWindowPolicy(minimumThroughput: 0)), "rateWindow.minimumThroughput"),
        (BreakerSettings(rateWindow: RateWindowPolicy(failureRateThreshold: 1.5)), "rateWindow.failureRateThreshold"),
        (BreakerSettings(rateWindow: RateWindowPolicy(failureRateThreshold: nil)), "rateWindow"),
        (
            BreakerSettings(rateWindow: RateWindowPolicy(slowCallRateThreshold: 0.5)),
            "rateWindow.slowCallRateThreshold"
        ),
        (
            BreakerSettings(rateWindow: RateWindowPolicy(samplingDuration: .milliseconds(5), buckets: 10)),
            "rateWindow.samplingDuration"
        ),
    ])
    func invalidSettingsAreRefusedByName(_ settings: BreakerSettings, _ name: String) {
        let error = #expect(throws: ConfigurationError.self) {
            _ = try BreakerFactory(
                store: InMemoryCircuitStore(), configuration: .init(settings: settings), logger: .init(label: "t"))
        }
        #expect(error?.setting == name)
    }

    @Test func defaultsAreSensible() throws {
        let settings = BreakerSettings()
        try settings.validate()
        #expect(settings.failureThreshold == 5)
        #expect(settings.closeThreshold == 1)
        #expect(settings.openDuration == .seconds(60))
        #expect(settings.resetInterval == nil)
    }

    @Test(arguments: ["", String(repeating: "x", count: 513), "tab\there", "new\nline"])
    func invalidNamesAreRefused(_ name: String) throws {
        let factory = try BreakerFactory(store: InMemoryCircuitStore(), logger: .init(label: "t"))
        let error = #expect(throws: ConfigurationError.self) { _ = try factory.breaker(for: name) }
        #expect(error?.setting == "name")
    }

    @Test func theNamingFunctionBuildsTheCircuitName() throws {
        var configuration = BreakerFactory.Configuration()
        configuration.naming = { base, context in "\(base)/\(context["tenant"] ?? "none")" }
        let factory = try BreakerFactory(
            store: InMemoryCircuitStore(), configuration: configuration, logger: .init(label: "t"))
        let breaker = try factory.breaker(for: "send-email", context: ["tenant": "acme"])
        #expect(breaker.name == "send-email/acme")
        #expect(breaker.baseName == "send-email")
        var empty = BreakerFactory.Configuration()
        empty.naming = { _, _ in "" }
        let refusing = try BreakerFactory(
            store: InMemoryCircuitStore(), configuration: empty, logger: .init(label: "t"))
        #expect(throws: ConfigurationError.self) { _ = try refusing.breaker(for: "x") }
    }

    @Test func rejectionsReadWell() {
        let rejection = CircuitRejected(
            circuit: "send-email/acme", reason: .open, retryAfter: Timestamp(millisecondsSince1970: 1_795_000_060_000))
        #expect("\(rejection)" == "circuit \"send-email/acme\" is open; retry after 2026-11-18T11:07:40.000Z")
    }
}
