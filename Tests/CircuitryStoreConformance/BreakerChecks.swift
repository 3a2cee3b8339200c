import Circuitry
import Synchronization

/// Settings the semantic checks share: trip after 3, close after 2 probes, open 10 s, probe lease 5 s.
let checkSettings = BreakerSettings(
    failureThreshold: 3, closeThreshold: 2, openDuration: .seconds(10), probeTimeout: .seconds(5))

/// Collects the state-change callbacks a factory fires.
final class Events: Sendable {
    private let changes = Mutex<[StateChange]>([])
    func append(_ change: StateChange) { changes.withLock { $0.append(change) } }
    var all: [StateChange] { changes.withLock { $0 } }
    var targets: [CircuitState] { all.map(\.transition.to) }
}

func fail(_ breaker: CircuitBreaker, times: Int = 1) async throws {
    for _ in 0..<times {
        do {
            try await breaker.execute { throw Boom() }
        } catch is Boom {}
    }
}

func succeed(_ breaker: CircuitBreaker) async throws {
    try await breaker.execute {}
}

extension StoreConformance {
    static let breakerChecks: [Check] = [
        Check(name: "trips at the failure threshold and rejects with the open period's end") { context in
            let events = Events()
            let factory = try context.factory(checkSettings) { $0.onStateChange = { events.append($0) } }
            let breaker = try factory.breaker(for: "email", context: ["tenant": "acme"])
            try await fail(breaker, times: 2)
            try expectEqual(try await breaker.state(), .closed, "state after 2 failures")
            try await succeed(breaker)
            try await fail(breaker, times: 2)
            try expectEqual(try await breaker.state(), .closed, "a success resets consecutive failures")
            let trippedAt = context.clock.now()
            try await fail(breaker)
            try expectEqual(try await breaker.state(), .open, "state after 3 consecutive failures")
            let rejection = try await expectThrows(CircuitRejected.self, "call while open") {
                try await breaker.execute { throw ConformanceFailure(message: "work ran while open", line: #line) }
            }
            try expectEqual(rejection.reason, .open, "rejection reason")
            try expectEqual(rejection.retryAfter, trippedAt + .seconds(10), "retryAfter")
            try expectEqual(events.targets, [.open], "callbacks")
            try expectEqual(events.all.first?.context, ["tenant": "acme"], "callback context")
            try expectEqual(events.all.first?.transition.reason, "3 consecutive failures", "trip reason")
        },
        Check(name: "a custom trip policy decides when to open") { context in
            var settings = checkSettings
            settings.tripPolicy = .custom("half of 4") { counts, _ in
                counts.requests >= 4 && counts.failures * 2 >= counts.requests
            }
            let events = Events()
            let factory = try context.factory(settings, batch: 1) { $0.onStateChange = { events.append($0) } }
            let breaker = try factory.breaker(for: "ratio")
            try await fail(breaker)
            try await succeed(breaker)
            try await fail(breaker)
            try expectEqual(try await breaker.state(), .closed, "3 calls are below the minimum of 4")
            try await succeed(breaker)
            try expectEqual(try await breaker.state(), .closed, "a success does not trip")
            try await fail(breaker)
            try expectEqual(try await breaker.state(), .open, "3 of 5 failed")
            try expectEqual(
                events.all.map(\.transition.reason), ["trip policy \"half of 4\" after 3 of 5 calls failed"],
                "trip reason")
        },
        Check(name: "open becomes half-open lazily, admits closeThreshold probes and closes on their success") {
            context in
            let events = Events()
            let factory = try context.factory(checkSettings) { $0.onStateChange = { events.append($0) } }
            let breaker = try factory.breaker(for: "probe")
            try await fail(breaker, times: 3)
            context.clock.advance(by: .milliseconds(9_999))
            try expectEqual(try await breaker.state(), .open, "1 ms before the end of the open period")
            context.clock.advance(by: .milliseconds(1))
            try expectEqual(try await breaker.state(), .halfOpen, "at the end of the open period")
            let first = try await breaker.acquire()
            let second = try await breaker.acquire()
            try expect(first.isProbe && second.isProbe, "half-open permits are probes")
            let third = try await expectThrows(CircuitRejected.self, "a third probe") {
                _ = try await breaker.acquire()
            }
            try expectEqual(third.reason, .probesExhausted, "reason")
            try expectEqual(third.retryAfter, context.clock.now() + .seconds(5), "retryAfter of exhausted probes")
            try await breaker.record(.success, for: first)
            try expectEqual(try await breaker.state(), .halfOpen, "after one of two probes succeeded")
            try await breaker.record(.success, for: second)
            try expectEqual(try await breaker.state(), .closed, "after both probes succeeded")
            try expectEqual(events.targets, [.open, .halfOpen, .closed], "callbacks")
            let history = try await factory.history(of: "probe")
            try expectEqual(history.map(\.transition.to), [.open, .halfOpen, .closed], "history")
        },
        Check(name: "a failed probe reopens, and every half-open period has its own probe budget") { context in
            let factory = try context.factory(checkSettings)
            let breaker = try factory.breaker(for: "budget")
            try await fail(breaker, times: 3)
            for period in 1...3 {
                context.clock.advance(by: .seconds(10))
                let probe = try await breaker.acquire()
                _ = try await breaker.acquire()
                try await breaker.record(.failure, for: probe)
                try expectEqual(try await breaker.state(), .open, "period \(period): a probe failure reopens")
            }
            context.clock.advance(by: .seconds(10))
            let a = try await breaker.acquire()
            let b = try await breaker.acquire()
            try await breaker.record(.success, for: a)
            try await breaker.record(.success, for: b)
            try expectEqual(try await breaker.state(), .closed, "closes after the fourth open period")
        },
        Check(name: "an expired probe lease counts as a failure and reopens the circuit") { context in
            let factory = try context.factory(checkSettings)
            let breaker = try factory.breaker(for: "lease")
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(10))
            let lost = try await breaker.acquire()
            context.clock.advance(by: .milliseconds(4_999))
            try expectEqual(try await breaker.state(), .halfOpen, "before the lease deadline")
            context.clock.advance(by: .milliseconds(1))
            try expectEqual(try await breaker.state(), .open, "at the lease deadline")
            _ = try await expectThrows(CircuitRejected.self, "a call after the lease expired") {
                _ = try await breaker.acquire()
            }
            try await breaker.record(.success, for: lost)
            try expectEqual(try await breaker.state(), .open, "a late report of the lost probe changes nothing")
            let history = try await factory.history(of: "lease")
            try expectEqual(history.last?.transition.reason, "probe lease expired", "reason")
        },
        Check(name: "an ignored probe releases its lease for another probe") { context in
            let factory = try context.factory(checkSettings)
            let breaker = try factory.breaker(for: "ignored")
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(10))
            let cancelled = try await breaker.acquire()
            let kept = try await breaker.acquire()
            try await breaker.record(error: CancellationError(), for: cancelled)
            let replacement = try await breaker.acquire()
            try await breaker.record(.success, for: kept)
            try await breaker.record(.success, for: replacement)
            try expectEqual(try await breaker.state(), .closed, "closed after two successful probes")
        },
        Check(name: "an outcome from an older generation is discarded") { context in
            let factory = try context.factory(checkSettings)
            let breaker = try factory.breaker(for: "stale")
            let slow = try await breaker.acquire()
            try await fail(breaker, times: 3)
            context.clock.advance(by: .seconds(10))
            let probe = try await breaker.acquire()
            try await breaker.record(.success, for: slow)
            try await breaker.record(.failure, for: slow)
            try expectEqual(try await breaker.state(), .halfOpen, "a slow call from the closed period changes nothing")
            let snapshot = try await breaker.snapshot()
            try expectEqual(snapshot.record.counts, .zero, "half-open counts")
            try await breaker.record(.success, for: probe)
            try expectEqual(try await breaker.snapshot().record.counts.successes, 1, "the probe's own report counts")
        },
        Check(name: "the reset interval clears the counts of a closed circuit") { context in
            var settings = checkSettings
            settings.resetInterval = .seconds(60)
            let factory = try context.factory(settings)
            let breaker = try factory.breaker(for: "interval")
            try await fail(breaker, times: 2)
            let before = try await breaker.snapshot().record
            try expectEqual(before.counts.consecutiveFailures, 2, "failures before the interval")
            context.clock.advance(by: .seconds(60))
            try await fail(breaker, times: 2)
            let after = try await breaker.snapshot().record
            try expectEqual(after.state, .closed, "two failures after a reset do not trip")
            try expectEqual(after.counts.consecutiveFailures, 2, "failures after the interval")
            try expectEqual(after.generation, before.generation + 1, "new generation")
        },
        Check(name: "cancellation and expected errors are not failures; classifiers decide in order") { context in
            struct NotFound: ExpectableError { var isExpected: Bool { true } }
            struct Throttled: Error {}
            struct Invalid: Error {}
            let factory = try context.factory(checkSettings, batch: 1) { configuration in
                configuration.classifiers["api"] = { $0 is Throttled ? .ignored : nil }
                configuration.fallbackClassifier = { $0 is Invalid || $0 is Throttled ? .success : nil }
            }
            let api = try factory.breaker(for: "api")
            let other = try factory.breaker(for: "other")
            try expectEqual(api.classify(Throttled()), .ignored, "per-circuit classifier wins")
            try expectEqual(other.classify(Throttled()), .success, "fallback classifier")
            try expectEqual(api.classify(Invalid()), .success, "fallback when the circuit's classifier has no opinion")
            try expectEqual(api.classify(CancellationError()), .ignored, "cancellation")
            try expectEqual(api.classify(NotFound()), .success, "ExpectableError")
            try expectEqual(api.classify(ExpectedError(Boom())), .success, "ExpectedError wrapper")
            try expectEqual(api.classify(Boom()), .failure, "anything else")
            for _ in 0..<5 {
                do { try await api.execute { throw CancellationError() } } catch is CancellationError {}
                do { try await api.execute { throw ExpectedError(Boom()) } } catch is ExpectedError {}
            }
            let record = try await api.snapshot().record
            try expectEqual(record.state, .closed, "state")
            try expectEqual(record.counts.failures, 0, "failures")
            try expectEqual(record.counts.successes, 5, "expected errors count as successes")
        },
        Check(name: "execute returns the work's value and rethrows its error unchanged") { context in
            struct Tagged: Error, Equatable { let tag: Int }
            let breaker = try context.factory(checkSettings).breaker(for: "values")
            try expectEqual(try await breaker.execute { 42 }, 42, "value")
            let error = try await expectThrows(Tagged.self, "work error") {
                try await breaker.execute { throw Tagged(tag: 7) }
            }
            try expectEqual(error, Tagged(tag: 7), "error")
        },
        Check(name: "overrides hold in every factory: forced open until a time, forced closed, reset") { context in
            let operations = try context.factory(checkSettings)
            let events = Events()
            let worker = try context.factory(checkSettings) { $0.onStateChange = { events.append($0) } }
            let breaker = try worker.breaker(for: "ops")
            let until = context.clock.now() + .seconds(30)
            try await operations.forceOpen("ops", until: until, reason: "maintenance")
            let rejection = try await expectThrows(CircuitRejected.self, "call while forced open") {
                try await succeed(breaker)
            }
            try expectEqual(rejection.reason, .forcedOpen("maintenance"), "reason")
            try expectEqual(rejection.retryAfter, until, "retryAfter")
            context.clock.advance(by: .seconds(30))
            try expectEqual(try await breaker.state(), .halfOpen, "half-open when the forced period ends")

            try await operations.forceOpen("ops")
            context.clock.advance(by: .seconds(3600))
            let forever = try await expectThrows(CircuitRejected.self, "call while forced open with no end") {
                try await succeed(breaker)
            }
            try expect(forever.retryAfter == nil, "no retryAfter when forced open with no end")

            try await operations.forceClosed("ops", reason: "upstream is fine")
            try await fail(breaker, times: 10)
            let closed = try await breaker.snapshot().record
            try expectEqual(closed.state, .closed, "forced closed never trips")
            try expectEqual(closed.counts.failures, 10, "forced closed still counts")

            try await operations.reset("ops")
            let reset = try await breaker.snapshot().record
            try expect(reset.override == nil, "reset clears the override")
            try expectEqual(reset.counts, .zero, "reset clears the counts")
            try await fail(breaker, times: 3)
            try expectEqual(try await breaker.state(), .open, "trips again after reset")
            // Reads commit nothing: the operator's forceOpen committed the lazy half-open transition, so the worker
            // itself committed (and was called back for) only its own trip.
            try expectEqual(events.targets, [.open], "the worker's callbacks")
            let history = try await worker.history(of: "ops").map { "\($0.transition.from)>\($0.transition.to)" }
            try expectEqual(
                history, ["closed>open", "open>half-open", "half-open>open", "open>closed", "closed>open"], "history")
        },
        Check(name: "a transition is committed, recorded and called back exactly once across factories") { context in
            let events = Events()
            let factories = try (0..<4).map { _ in
                try context.factory(checkSettings) { $0.onStateChange = { events.append($0) } }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for factory in factories {
                    group.addTask {
                        let breaker = try factory.breaker(for: "once")
                        for _ in 0..<5 {
                            do { try await fail(breaker) } catch is CircuitRejected {}
                        }
                    }
                }
                try await group.waitForAll()
            }
            try expectEqual(events.targets, [.open], "callbacks")
            try expectEqual(try await factories[0].history(of: "once").count, 1, "history rows")
        },
        Check(name: "batched successes are exact after a flush and never hide a failure") { context in
            let factory = try context.factory(checkSettings, batch: 1000)
            let breaker = try factory.breaker(for: "batched")
            for _ in 0..<25 { try await succeed(breaker) }
            try expectEqual(try await breaker.snapshot().unflushedSuccesses, 25, "batched in this process")
            try await factory.flush()
            let flushed = try await breaker.snapshot()
            try expectEqual(flushed.record.counts.successes, 25, "stored successes after flush")
            try expectEqual(flushed.unflushedSuccesses, 0, "nothing left to flush")
            for _ in 0..<5 { try await succeed(breaker) }
            try await fail(breaker)
            let folded = try await breaker.snapshot().record.counts
            try expectEqual(folded.successes, 30, "successes folded into the failure's write")
            try expectEqual(folded.failures, 1, "failures")
            try expectEqual(folded.consecutiveFailures, 1, "consecutive failures")
            try await fail(breaker, times: 2)
            try expectEqual(try await breaker.state(), .open, "trips at the threshold despite batched successes")
        },
        Check(name: "consecutive successes are exact after a flush when another process's failure came in between") {
            context in
            let batching = try context.factory(checkSettings, batch: 1000)
            let other = try context.factory(checkSettings, batch: 1)
            try await succeed(batching.breaker(for: "run"))  // batched
            try await fail(other.breaker(for: "run"))
            try await succeed(other.breaker(for: "run"))  // written: it ends the run of failures
            try await succeed(batching.breaker(for: "run"))  // batched, after the failure
            try await batching.flush()
            let counts = try await context.store.read("run").record?.counts
            try expectEqual(counts?.successes, 3, "successes")
            try expectEqual(counts?.consecutiveSuccesses, 2, "successes since the failure")
        },
        Check(name: "a full batch is written without a flush") { context in
            let factory = try context.factory(checkSettings, batch: 10)
            let breaker = try factory.breaker(for: "full-batch")
            for _ in 0..<25 { try await succeed(breaker) }
            try expectEqual(try await breaker.snapshot().record.counts.successes, 20, "two full batches written")
        },
    ]
}
