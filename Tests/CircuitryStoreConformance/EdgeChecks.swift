import Circuitry
import Foundation

/// Settings whose half-open period admits one probe: trip after 3, open 10 s, probe lease 5 s.
let oneProbeSettings = BreakerSettings(
    failureThreshold: 3, closeThreshold: 1, openDuration: .seconds(10), probeTimeout: .seconds(5))

/// A permit as a job queue might have stored it, with the given fields.
func decodedPermit(circuit: String, generation: Int64, lease: Int64?, admittedAt: Int64) throws -> CircuitPermit {
    let json = """
        {"circuit":\(String(reflecting: circuit)),"generation":\(generation),"lease":\(lease.map(String.init) ?? "null"),\
        "admittedAt":{"millisecondsSince1970":\(admittedAt)},"isRecorded":true}
        """
    return try JSONDecoder().decode(CircuitPermit.self, from: Data(json.utf8))
}

extension StoreConformance {
    static let edgeChecks: [Check] =
        lazyTimeChecks + lifeChecks + inputChecks + nameChecks + clockChecks + [
            Check(name: "random operation sequences keep every invariant; lazy equals timers; batching changes nothing")
            {
                context in
                let runner = ModelRunner(store: context.store, clock: context.clock)
                for seed in 1...4 as ClosedRange<UInt64> {
                    try await runner.check(ModelScenario(seed: seed, steps: 40, wild: seed % 2 == 0))
                }
            }
        ]

    static let lazyTimeChecks: [Check] = [
        Check(name: "lazy time equals timers: a lost probe reopens from its lease deadline, not from the next look") {
            context in
            let events = Events()
            let factory = try context.factory(checkSettings) { $0.onStateChange = { events.append($0) } }
            let breaker = try factory.breaker(for: "lost-probe")
            let start = context.clock.now()
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(10))
            _ = try await breaker.acquire()  // never reported: its lease ends at +15 s
            context.clock.advance(by: .seconds(65))
            // As timers would have it: the lease expired at +15 s, open until +25 s, half-open since.
            let snapshot = try await breaker.snapshot()
            try expectEqual(snapshot.state, .halfOpen, "state at +75 s")
            let probe = try await breaker.acquire()
            try expect(probe.isProbe, "a probe is admitted at +75 s")
            let expected: [(CircuitState, Duration)] = [
                (.open, .zero), (.halfOpen, .seconds(10)), (.open, .seconds(15)), (.halfOpen, .seconds(25)),
            ]
            let history = try await factory.history(of: "lost-probe")
            try expectEqual(history.map(\.transition.to), expected.map(\.0), "transitions")
            try expectEqual(history.map(\.transition.at), expected.map { start + $0.1 }, "transition instants")
            try expectEqual(events.all.map(\.transition.at), expected.map { start + $0.1 }, "callback instants")
            try expectEqual(history[2].transition.reason, "probe lease expired", "reason")
        },
        Check(name: "lazy time equals timers: a forced-open period ends at its until, and the probe lease after it") {
            context in
            let factory = try context.factory(oneProbeSettings)
            let breaker = try factory.breaker(for: "forced-end")
            let start = context.clock.now()
            try await factory.forceOpen("forced-end", until: start + .seconds(30), reason: "maintenance")
            context.clock.advance(by: .seconds(30))
            _ = try await breaker.acquire()  // a probe at +30 s, lost
            context.clock.advance(by: .seconds(100))
            // Lease expired at +35 s → open until +45 s → half-open.
            try expectEqual(try await breaker.state(), .halfOpen, "state at +130 s")
            _ = try await breaker.acquire()
            let history = try await factory.history(of: "forced-end").map(\.transition)
            try expectEqual(
                history.map(\.at), [0, 30, 35, 45].map { start + .seconds($0) }, "transition instants")
            try expectEqual(history[1].reason, "forced-open period ended", "reason")
        },
        Check(name: "lazy time equals timers: elapsed reset intervals keep their schedule, one generation each") {
            context in
            var settings = checkSettings
            settings.resetInterval = .seconds(60)
            let factory = try context.factory(settings)
            let breaker = try factory.breaker(for: "schedule")
            let start = context.clock.now()
            try await fail(breaker)  // creates the circuit: its first interval ends at +60 s
            let first = try await breaker.snapshot().record
            context.clock.advance(by: .seconds(150))
            let later = try await breaker.snapshot().record
            try expectEqual(later.generation, first.generation + 2, "two intervals ended (at +60 s and +120 s)")
            try expectEqual(later.counts, .zero, "counts after the intervals")
            try expectEqual(later.expiresAt, start + .seconds(180), "the next interval ends on the schedule")
            try await fail(breaker)
            try expectEqual(
                try await context.store.read("schedule").record?.expiresAt, start + .seconds(180), "stored schedule")
            context.clock.advance(by: .seconds(30))
            try expectEqual(
                try await breaker.snapshot().record.generation, first.generation + 3, "the interval ending at +180 s")
        },
    ]

    static let lifeChecks: [Check] = [
        Check(name: "a permit from before a forget or a prune is not counted by the circuit that replaced it") {
            context in
            var settings = checkSettings
            settings.failureThreshold = 2
            let factory = try context.factory(settings)
            let breaker = try factory.breaker(for: "reborn")
            let old = try await breaker.acquire()
            try await factory.forget("reborn")
            try await fail(breaker)
            try await breaker.record(.failure, for: old)
            let record = try await breaker.snapshot().record
            try expectEqual(record.state, .closed, "state after the old permit's failure")
            try expectEqual(record.counts.failures, 1, "failures of the new circuit")

            let beforePrune = try await breaker.acquire()
            context.clock.advance(by: .milliseconds(1))
            try expectEqual(try await factory.prune(idleFor: .zero), ["reborn"], "pruned")
            try await fail(breaker)
            try await breaker.record(.failure, for: beforePrune)
            try expectEqual(try await breaker.snapshot().record.counts.failures, 1, "failures after the prune")
        },
        Check(name: "a report or a flush for a forgotten circuit does not bring it back, and drops its successes") {
            context in
            let factory = try context.factory(checkSettings)
            let other = try context.factory(checkSettings)
            let breaker = try factory.breaker(for: "gone")
            let permit = try await breaker.acquire()
            for _ in 0..<5 { try await succeed(other.breaker(for: "gone")) }
            try await factory.forget("gone")
            try await breaker.record(.failure, for: permit)
            try await other.flush()
            try expect(try await factory.snapshot(of: "gone") == nil, "a stale report recreated the circuit")
            try await succeed(breaker)
            for _ in 0..<3 { try await succeed(other.breaker(for: "gone")) }
            try await factory.flush()
            try await other.flush()
            try expectEqual(
                try await breaker.snapshot().record.counts.successes, 4, "successes of the new circuit only")
        },
        Check(name: "forgetting a circuit first commits what time changed, as timers would have") { context in
            let events = Events()
            let factory = try context.factory(oneProbeSettings) { $0.onStateChange = { events.append($0) } }
            let breaker = try factory.breaker(for: "forgotten-late")
            let start = context.clock.now()
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(25))
            try expect(try await factory.forget("forgotten-late"), "forget removed the circuit")
            let history = try await factory.history(of: "forgotten-late").map(\.transition)
            try expectEqual(history.map(\.to), [.open, .halfOpen], "transitions")
            try expectEqual(history.last?.at, start + .seconds(10), "the open period ended at +10 s")
            try expectEqual(events.targets, [.open, .halfOpen], "callbacks")
            try expect(try await factory.snapshot(of: "forgotten-late") == nil, "the circuit is gone")
        },
        Check(name: "a probe of a forgotten circuit cannot close the circuit that replaced it") { context in
            let factory = try context.factory(oneProbeSettings)
            let breaker = try factory.breaker(for: "probe-life")
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(10))
            let oldProbe = try await breaker.acquire()
            try await factory.forget("probe-life")
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(10))
            _ = try await breaker.acquire()
            try await breaker.record(.success, for: oldProbe)
            try expectEqual(try await breaker.state(), .halfOpen, "state after the old probe's success")
        },
    ]

    static let inputChecks: [Check] = [
        Check(name: "stored values at the top of their range saturate instead of trapping") { context in
            let factory = try context.factory(checkSettings)
            try await context.store.update("huge") { stored, now in
                stored = CircuitRecord(
                    name: "huge", state: .closed, generation: .max,
                    counts: CircuitCounts(
                        requests: .max, successes: .max, failures: .max - 1, consecutiveSuccesses: .max,
                        consecutiveFailures: 1),
                    expiresAt: Timestamp(millisecondsSince1970: .max), probes: [], override: nil, openAttempts: .max,
                    updatedAt: now)
                return StoreUpdate(value: (), write: true)
            }
            let breaker = try factory.breaker(for: "huge")
            for _ in 0..<2 { try await succeed(breaker) }
            try await factory.flush()
            try await fail(breaker, times: 3)
            let record = try await breaker.snapshot().record
            try expectEqual(record.state, .open, "state")
            try expectEqual(record.generation, .max, "generation saturates")
            try expectEqual(record.openAttempts, .max, "open attempts saturate")
            context.clock.set(to: Timestamp(millisecondsSince1970: .max - 5))
            _ = try await breaker.snapshot()
            context.clock.set(to: Timestamp(millisecondsSince1970: .min))
            _ = try await expectThrows(CircuitRejected.self, "a call at the start of time") {
                try await succeed(breaker)
            }
        },
        Check(name: "permits decoded from anywhere never trap: extreme times, foreign generations and leases") {
            context in
            var settings = oneProbeSettings
            settings.slowCallDuration = .seconds(1)
            let factory = try context.factory(settings, batch: 1)
            let breaker = try factory.breaker(for: "forged")
            _ = try await breaker.acquire()
            let generation = try await breaker.snapshot().record.generation
            for admittedAt in [Int64.min, .max, 0, -1] {
                for lease in [nil, Int64.min, .max] as [Int64?] {
                    for claimed in [generation, .min, .max, 0, -generation] {
                        let permit = try decodedPermit(
                            circuit: "forged", generation: claimed, lease: lease, admittedAt: admittedAt)
                        try await breaker.record(.success, for: permit)
                        try await breaker.record(.ignored, for: permit)
                        try await breaker.record(
                            .failure(openUntil: Timestamp(millisecondsSince1970: .max)), for: permit)
                    }
                }
                try await factory.reset("forged")
            }
            // A permit admitted at the start of time, reported now, took forever: a slow call, a failure.
            let current = try await breaker.snapshot().record.generation
            let ancient = try decodedPermit(circuit: "forged", generation: current, lease: nil, admittedAt: .min)
            try await breaker.record(.success, for: ancient)
            try expectEqual(try await breaker.snapshot().record.counts.failures, 1, "a slow success counts as failed")
            for text in [
                #"{"circuit":"forged","generation":"abc","lease":null,"admittedAt":{"millisecondsSince1970":0},"isRecorded":true}"#,
                #"{"circuit":"forged","generation":1e300,"admittedAt":{"millisecondsSince1970":0},"isRecorded":true}"#,
                #"{"circuit":"forged"}"#, "[]", "",
            ] {
                _ = try await expectThrows(DecodingError.self, "decoding \(text)") {
                    _ = try JSONDecoder().decode(CircuitPermit.self, from: Data(text.utf8))
                }
            }
        },
    ]

    static let nameChecks: [Check] = [
        Check(name: "a store compares names byte for byte: two Unicode forms of one name are two records") {
            context in
            let composed = "caf\u{E9}"
            let decomposed = "cafe\u{301}"
            for (name, failures) in [(composed, 5), (decomposed, 7)] as [(String, Int64)] {
                try await context.store.update(name) { stored, now in
                    var record = CircuitRecord(name: name, createdAt: now)
                    record.counts.failures = failures
                    stored = record
                    return StoreUpdate(value: (), write: true)
                }
            }
            try expectEqual(try await context.store.list().records.count, 2, "records")
            try expectEqual(try await context.store.read(composed).record?.counts.failures, 5, "NFC record")
            try expectEqual(try await context.store.read(decomposed).record?.counts.failures, 7, "NFD record")
            try expect(
                try await context.store.read(composed).record?.name.utf8.elementsEqual(composed.utf8) == true,
                "the NFC record keeps its bytes")
        },
        Check(name: "a factory puts names in NFC: one circuit whichever form the name comes in") { context in
            let composed = "caf\u{E9}/t\u{F6}"
            let decomposed = "cafe\u{301}/to\u{308}"
            let factory = try context.factory(checkSettings)
            let nfd = try factory.breaker(for: decomposed)
            try expect(
                nfd.name.utf8.elementsEqual(composed.utf8), "the breaker's name is in NFC: \(Array(nfd.name.utf8))")
            for _ in 0..<5 { try await succeed(try factory.breaker(for: composed)) }
            for _ in 0..<7 { try await succeed(nfd) }
            try await factory.flush()
            let records = try await context.store.list().records
            try expectEqual(records.count, 1, "stored circuits")
            try expectEqual(records.first?.counts.successes, 12, "successes")
            try expect(records.first?.name.utf8.elementsEqual(composed.utf8) == true, "stored name in NFC")
            try await factory.forceOpen(decomposed, reason: "by the other form")
            _ = try await expectThrows(CircuitRejected.self, "a call after forcing the other form open") {
                try await succeed(try factory.breaker(for: composed))
            }
            try expectEqual(try await factory.history(of: decomposed).count, 1, "history by the other form")
            try expect(try await factory.snapshot(of: decomposed) != nil, "snapshot by the other form")
            try expect(try await factory.forget(decomposed), "forget by the other form")
            try expectEqual(try await context.store.list().records.count, 0, "stored circuits after forget")
        },
        Check(name: "names with format characters (bidirectional overrides) or separators are refused") { context in
            let factory = try context.factory(checkSettings)
            for name in ["invoice\u{202E}fdp.exe", "zero\u{200B}width", "soft\u{AD}hyphen", "line\u{2028}break"] {
                let error = try await expectThrows(ConfigurationError.self, "breaker for \(name.debugDescription)") {
                    _ = try factory.breaker(for: name)
                }
                try expectEqual(error.setting, "name", "setting")
                try expect(!error.message.unicodeScalars.contains { $0 == "\u{202E}" }, "the message is garbled")
                _ = try await expectThrows(ConfigurationError.self, "forceOpen of \(name.debugDescription)") {
                    try await factory.forceOpen(name)
                }
            }
            try expectEqual(try await context.store.list().records.count, 0, "stored circuits")
        },
    ]

    static let clockChecks: [Check] = [
        Check(name: "a backward clock step after a lost probe holds the circuit no longer than its durations") {
            context in
            let factory = try context.factory(oneProbeSettings)
            let breaker = try factory.breaker(for: "stepped")
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(10))
            _ = try await breaker.acquire()  // lost
            context.clock.advance(by: .seconds(-3600))
            let stepped = context.clock.now()
            let rejection = try await expectThrows(CircuitRejected.self, "a call just after the step") {
                _ = try await breaker.acquire()
            }
            try expectEqual(rejection.reason, .probesExhausted, "reason")
            try expect(
                rejection.retryAfter.map { $0 <= stepped + .seconds(5) } ?? false,
                "retryAfter \(String(describing: rejection.retryAfter)) beyond the probe timeout from \(stepped)")
            // The lease ends within the probe timeout, then a full open period: a probe at most 15 s after the step.
            context.clock.advance(by: .seconds(15))
            try expect(try await breaker.acquire().isProbe, "a probe 15 s after the step")
        },
        Check(name: "a backward clock step while open holds the circuit no longer than its open period") { context in
            let factory = try context.factory(oneProbeSettings)
            let breaker = try factory.breaker(for: "open-stepped")
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(-3600))
            let stepped = context.clock.now()
            let rejection = try await expectThrows(CircuitRejected.self, "a call after the step") {
                _ = try await breaker.acquire()
            }
            try expectEqual(rejection.retryAfter, stepped + .seconds(10), "retryAfter")
            context.clock.advance(by: .seconds(10))
            try expect(try await breaker.acquire().isProbe, "a probe one open period after the step")
        },
        Check(name: "an upstream's wait and a forced-open until survive a backward clock step") { context in
            let factory = try context.factory(oneProbeSettings)
            let upstream = try factory.breaker(for: "retry-after")
            let start = context.clock.now()
            let permit = try await upstream.acquire()
            try await upstream.record(.failure(openUntil: start + .seconds(300)), for: permit)
            try await factory.forceOpen("maintenance", until: start + .seconds(1800), reason: "migration")
            context.clock.advance(by: .seconds(-3600))
            let stepped = context.clock.now()
            let waiting = try await expectThrows(CircuitRejected.self, "a call after the step") {
                _ = try await upstream.acquire()
            }
            try expectEqual(waiting.retryAfter, stepped + .seconds(300), "the upstream's 300 s, from the step")
            let forced = try await expectThrows(CircuitRejected.self, "a call to the forced-open circuit") {
                _ = try await factory.breaker(for: "maintenance").acquire()
            }
            try expectEqual(forced.retryAfter, start + .seconds(1800), "the operator's until")
        },
        Check(name: "a wall-clock step does not age a batch of successes") { context in
            let factory = try context.factory(checkSettings) { $0.successFlushInterval = .seconds(60) }
            let breaker = try factory.breaker(for: "batch-age")
            try await succeed(breaker)
            try await succeed(breaker)
            context.clock.advance(by: .seconds(7200))
            try await succeed(breaker)
            try expectEqual(try await breaker.snapshot().unflushedSuccesses, 3, "still batched after a 2 h step")
        },
    ]
}
