import CircuitryStoreConformance
import Testing

@testable import Circuitry

/// `advance` gives what timers firing at every deadline would have, as a pure function, whatever the record.
@Suite struct LazyTimeTests {
    let start = Timestamp(millisecondsSince1970: 1_800_000_000_000)

    func machine(
        closeThreshold: Int = 1, resetInterval: Duration? = nil, policy: OpenDurationPolicy = .fixed
    ) -> CircuitStateMachine {
        CircuitStateMachine(
            settings: BreakerSettings(
                failureThreshold: 1, closeThreshold: closeThreshold, openDuration: .seconds(10),
                probeTimeout: .seconds(5), resetInterval: resetInterval, openDurationPolicy: policy),
            actor: "test")
    }

    /// A circuit that tripped at `start` and admitted a probe at `start + 10 s` (lease until `start + 15 s`).
    func lostProbe(_ machine: CircuitStateMachine) -> CircuitRecord {
        var record = CircuitRecord(name: "c", createdAt: start)
        var transitions: [CircuitTransition] = []
        _ = machine.record(
            CallReport.failure, generation: 1, lease: nil, in: &record, now: start, transitions: &transitions)
        machine.advance(&record, now: start + .seconds(10), transitions: &transitions)
        _ = machine.admit(&record, now: start + .seconds(10), leaseID: 7)
        record.updatedAt = start + .seconds(10)
        return record
    }

    @Test func severalElapsedDeadlinesAreAppliedInOrderAsOfTheirInstants() {
        let machine = machine()
        var record = lostProbe(machine)
        var transitions: [CircuitTransition] = []
        #expect(machine.advance(&record, now: start + .seconds(75), transitions: &transitions))
        #expect(transitions.map(\.to) == [.open, .halfOpen])
        #expect(transitions.map(\.at) == [start + .seconds(15), start + .seconds(25)])
        #expect(record.state == .halfOpen)
        #expect(record.openAttempts == 2)
    }

    @Test func theOpenPeriodAfterAnExpiredLeaseFollowsThePolicyFromTheLeaseDeadline() {
        let machine = machine(policy: .custom { attempt in .seconds(10 * attempt) })
        var record = lostProbe(machine)
        var transitions: [CircuitTransition] = []
        machine.advance(&record, now: start + .seconds(30), transitions: &transitions)
        #expect(record.state == .open)
        #expect(record.expiresAt == start + .seconds(35), "second opening: 20 s from the lease deadline at +15 s")
    }

    @Test func elapsedResetIntervalsStayOnTheirSchedule() {
        let machine = machine(resetInterval: .seconds(60))
        var record = machine.newRecord(name: "c", now: start, nonce: 0)
        let first = record.generation
        record.counts.failures = 1
        var transitions: [CircuitTransition] = []
        machine.advance(&record, now: start + .seconds(150), transitions: &transitions)
        #expect(record.generation == first + 2)
        #expect(record.counts == .zero)
        #expect(record.expiresAt == start + .seconds(180))
        #expect(transitions.isEmpty)
    }

    /// Records the rules never write: a loop over them still ends, and nothing traps.
    @Test(arguments: [Int64.min, -1, 0, Int64.max])
    func corruptOrFarPastRecordsEndTheLoop(_ instant: Int64) {
        let machine = machine(closeThreshold: 3, resetInterval: .milliseconds(1))
        let far = Timestamp(millisecondsSince1970: instant)
        let probes = (0..<1000).map { ProbeLease(id: Int64($0), deadline: far) }
        let records = [
            CircuitRecord(
                name: "c", state: .halfOpen, generation: .max, counts: .zero, expiresAt: far, probes: probes,
                override: nil, openAttempts: .max, updatedAt: far),
            CircuitRecord(
                name: "c", state: .closed, generation: .max - 1, counts: .zero, expiresAt: far, probes: [],
                override: .forcedClosed(reason: nil), openAttempts: 0, updatedAt: far),
            CircuitRecord(
                name: "c", state: .open, generation: 1, counts: .zero, expiresAt: nil, probes: probes, override: nil,
                openAttempts: -5, updatedAt: far),
            CircuitRecord(
                name: "c", state: .open, generation: 1, counts: .zero, expiresAt: far, probes: [],
                override: .forcedOpen(until: far, reason: nil), openAttempts: 0, updatedAt: far),
        ]
        for original in records {
            for now in [Int64.min, -1, 0, 1_800_000_000_000, Int64.max].map(Timestamp.init(millisecondsSinceEpoch:)) {
                var record = original
                var transitions: [CircuitTransition] = []
                machine.advance(&record, now: now, transitions: &transitions)
                #expect(transitions.count <= CircuitStateMachine.maximumDeadlinesPerEvaluation)
                _ = machine.admit(&record, now: now, leaseID: 1)
                _ = machine.record(
                    CallReport(outcome: .failure, admittedAt: far), generation: record.generation, lease: 1,
                    in: &record, now: now, transitions: &transitions)
            }
        }
    }

    /// Lazy evaluation at any instant equals evaluation at every deadline up to it, in order, over random records.
    @Test func lazyEvaluationEqualsEvaluationAtEveryDeadline() {
        var random = SeededGenerator(seed: 11)
        var compared = 0
        for _ in 0..<5_000 {
            let machine = machine(
                closeThreshold: Int.random(in: 1...3, using: &random),
                resetInterval: Bool.random(using: &random) ? .seconds(Int64.random(in: 1...30, using: &random)) : nil,
                policy: Bool.random(using: &random) ? .fixed : .custom { attempt in .seconds(min(attempt, 6) * 4) })
            // A record as the rules leave it, last written at `start`: deadlines no further ahead than the settings
            // allow from then (the bound for clock steps then changes nothing).
            let state = [CircuitState.closed, .open, .halfOpen].randomElement(using: &random)!
            let within = { (limit: Duration, random: inout SeededGenerator) in
                start + .milliseconds(Int64.random(in: 0...limit.milliseconds, using: &random))
            }
            var record = CircuitRecord(
                name: "c\(compared)", state: state, generation: Int64.random(in: 1...1000, using: &random),
                counts: .zero, expiresAt: nil, probes: [], override: nil,
                openAttempts: Int64.random(in: 1...3, using: &random), updatedAt: start)
            switch state {
            case .open:
                record.expiresAt = within(.seconds(60), &random)
                if Bool.random(using: &random) { record.override = .forcedOpen(until: record.expiresAt, reason: nil) }
            case .halfOpen:
                record.probes = (0..<Int.random(in: 0...3, using: &random)).map {
                    ProbeLease(id: Int64($0), deadline: within(machine.settings.probeTimeout, &random))
                }
            case .closed:
                record.expiresAt = machine.settings.resetInterval.map { within($0, &random) }
            }
            let later = within(.seconds(200), &random)

            var lazy = record
            var lazyTransitions: [CircuitTransition] = []
            machine.advance(&lazy, now: later, transitions: &lazyTransitions)

            var eager = record
            var eagerTransitions: [CircuitTransition] = []
            while let deadline = nextDeadline(eager), deadline <= later {
                machine.advance(&eager, now: deadline, transitions: &eagerTransitions)
            }
            machine.advance(&eager, now: later, transitions: &eagerTransitions)
            #expect(lazy == eager, "record \(record) at \(later)")
            #expect(lazyTransitions == eagerTransitions)
            compared += 1
        }
        #expect(compared == 5_000)
    }

    func nextDeadline(_ record: CircuitRecord) -> Timestamp? {
        switch record.state {
        case .open: record.expiresAt
        case .halfOpen: record.probes.map(\.deadline).min()
        case .closed: record.expiresAt
        }
    }

    @Test func firstGenerationsGrowWithTheHourAndDifferWithinIt() {
        let hour = Duration.seconds(3600)
        let a = CircuitStateMachine.firstGeneration(at: start, nonce: .max)
        let b = CircuitStateMachine.firstGeneration(at: start + hour, nonce: 0)
        #expect(b > a + 1_000_000, "a later hour starts above every generation an earlier life can reach")
        #expect(
            CircuitStateMachine.firstGeneration(at: start, nonce: 1)
                != CircuitStateMachine.firstGeneration(at: start, nonce: 2))
        for instant in [Int64.min, -1, 0, .max] {
            let generation = CircuitStateMachine.firstGeneration(
                at: Timestamp(millisecondsSince1970: instant), nonce: .max)
            #expect(generation >= 1 && generation < .max - (1 << 39), "\(instant): \(generation)")
        }
    }
}

extension Timestamp {
    fileprivate init(millisecondsSinceEpoch value: Int64) { self.init(millisecondsSince1970: value) }
}
