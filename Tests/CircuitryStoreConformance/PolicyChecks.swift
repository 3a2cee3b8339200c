import Circuitry

extension StoreConformance {
    static let policyChecks: [Check] = [
        Check(name: "failure-rate window: trips at the rate once the minimum throughput is reached") { context in
            let settings = BreakerSettings(
                rateWindow: RateWindowPolicy(
                    samplingDuration: .seconds(10), minimumThroughput: 6, failureRateThreshold: 0.5, buckets: 10))
            let events = Events()
            let factory = try context.factory(settings) { $0.onStateChange = { events.append($0) } }
            let breaker = try factory.breaker(for: "rate")
            for _ in 0..<3 { try await succeed(breaker) }
            try await fail(breaker, times: 2)
            try expectEqual(try await breaker.state(), .closed, "5 calls: below the minimum throughput")
            try expectEqual(try await breaker.snapshot().unflushedSuccesses, 0, "a rate window batches nothing")
            try await fail(breaker)
            try expectEqual(try await breaker.state(), .open, "3 of 6 failed")
            try expectEqual(
                events.all.first?.transition.reason, "failure rate 3/6 in 10.0 seconds reached 0.5", "reason")
        },
        Check(name: "failure-rate window: calls slide out of the window") { context in
            let settings = BreakerSettings(
                rateWindow: RateWindowPolicy(
                    samplingDuration: .seconds(10), minimumThroughput: 4, failureRateThreshold: 0.5, buckets: 10))
            let factory = try context.factory(settings)
            let breaker = try factory.breaker(for: "sliding")
            try await fail(breaker, times: 1)
            for _ in 0..<2 { try await succeed(breaker) }
            context.clock.advance(by: .seconds(10))
            // The failure above has left the window: 2 of 4 would trip, 1 of 4 does not.
            try await fail(breaker)
            for _ in 0..<3 { try await succeed(breaker) }
            try expectEqual(try await breaker.state(), .closed, "1 of 4 recent calls failed")
            let window = try await breaker.snapshot().record.window
            try expectEqual(window.reduce(0) { $0 + $1.calls }, 4, "calls in the window")
        },
        Check(name: "failure-rate window is shared by every factory") { context in
            let settings = BreakerSettings(
                rateWindow: RateWindowPolicy(
                    samplingDuration: .seconds(10), minimumThroughput: 4, failureRateThreshold: 0.8))
            let first = try context.factory(settings).breaker(for: "shared-rate")
            let second = try context.factory(settings).breaker(for: "shared-rate")
            try await fail(first)
            try await succeed(second)
            try await fail(second)
            try await fail(first)
            try expectEqual(try await first.state(), .closed, "3 of 4 failed across factories: 75 % is below 80 %")
            try await fail(second)
            try expectEqual(try await first.state(), .open, "4 of 5 failed across factories: 80 %")
        },
        Check(name: "slow calls count as failures") { context in
            var settings = checkSettings
            settings.slowCallDuration = .milliseconds(100)
            let factory = try context.factory(settings)
            let breaker = try factory.breaker(for: "slow")
            for _ in 0..<2 {
                let permit = try await breaker.acquire()
                try await breaker.record(.success, for: permit, duration: .milliseconds(101))
            }
            let fast = try await breaker.acquire()
            try await breaker.record(.success, for: fast, duration: .milliseconds(100))
            try expectEqual(try await breaker.snapshot().record.counts.failures, 2, "two slow successes failed")
            // Without a measured duration, the time since admission counts (the store's clock).
            for _ in 0..<3 {
                let permit = try await breaker.acquire()
                context.clock.advance(by: .milliseconds(150))
                try await breaker.record(.success, for: permit)
            }
            try expectEqual(try await breaker.state(), .open, "three slow calls in a row trip")
        },
        Check(name: "slow-call rate window trips on the share of slow calls") { context in
            let settings = BreakerSettings(
                rateWindow: RateWindowPolicy(
                    samplingDuration: .seconds(10), minimumThroughput: 4, failureRateThreshold: nil,
                    slowCallRateThreshold: 0.5),
                slowCallDuration: .milliseconds(100))
            let breaker = try context.factory(settings).breaker(for: "slow-rate")
            for duration in [10, 500, 10] {
                let permit = try await breaker.acquire()
                try await breaker.record(.success, for: permit, duration: .milliseconds(duration))
            }
            try expectEqual(try await breaker.state(), .closed, "3 calls")
            let permit = try await breaker.acquire()
            try await breaker.record(.success, for: permit, duration: .milliseconds(500))
            try expectEqual(try await breaker.state(), .open, "2 of 4 slow")
            try expectEqual(try await breaker.snapshot().record.counts, .zero, "new generation")
        },
        Check(name: "exponential backoff lives with the circuit and resets when it closes") { context in
            var settings = checkSettings
            settings.closeThreshold = 1
            settings.openDurationPolicy = .exponential(factor: 2, maximum: .seconds(60), jitter: 0)
            let breaker = try context.factory(settings).breaker(for: "backoff")
            try await fail(breaker, times: 3)
            for expected in [10, 20, 40, 60, 60] {
                let retryAfter = try await breaker.snapshot().retryAfter
                try expectEqual(retryAfter, context.clock.now() + .seconds(expected), "open period")
                context.clock.advance(by: .seconds(expected))
                let probe = try await breaker.acquire()
                try await breaker.record(.failure, for: probe)
            }
            context.clock.advance(by: .seconds(60))
            try await breaker.record(.success, for: try await breaker.acquire())
            try expectEqual(try await breaker.state(), .closed, "closed")
            try await fail(breaker, times: 3)
            try expectEqual(
                try await breaker.snapshot().retryAfter, context.clock.now() + .seconds(10), "back to the base")
        },
        Check(name: "jitter spreads open periods within its bounds; a custom function decides alone") { context in
            var jittered = checkSettings
            jittered.openDurationPolicy = .exponential(factor: 1, maximum: .seconds(10), jitter: 0.2)
            let factory = try context.factory(jittered)
            var periods: Set<Duration> = []
            for index in 0..<10 {
                let breaker = try factory.breaker(for: "jitter-\(index)")
                try await fail(breaker, times: 3)
                let period = try await breaker.snapshot().retryAfter! - context.clock.now()
                try expect(period >= .seconds(8) && period <= .seconds(12), "period \(period) outside 10 s ± 20 %")
                periods.insert(period)
            }
            try expect(periods.count > 1, "ten circuits opened for the same period: \(periods)")
            var custom = checkSettings
            custom.openDurationPolicy = .custom { attempt in .seconds(7 * attempt) }
            let breaker = try context.factory(custom).breaker(for: "custom-open")
            try await fail(breaker, times: 3)
            try expectEqual(try await breaker.snapshot().retryAfter, context.clock.now() + .seconds(7), "first")
        },
        Check(name: "a failure can hold the circuit open until the time the upstream asked for") { context in
            let factory = try context.factory(checkSettings)
            let breaker = try factory.breaker(for: "retry-after")
            let until = context.clock.now() + .seconds(120)
            try await breaker.record(.failure(openUntil: until), for: try await breaker.acquire())
            let other = try context.factory(checkSettings).breaker(for: "retry-after")
            let rejection = try await expectThrows(CircuitRejected.self, "call before the time") {
                try await succeed(other)
            }
            try expectEqual(rejection.retryAfter, until, "every factory honours the time")
            context.clock.advance(by: .seconds(120))
            let probe = try await breaker.acquire()
            let later = context.clock.now() + .seconds(300)
            try await breaker.record(.failure(openUntil: later), for: probe)
            try expectEqual(try await breaker.snapshot().retryAfter, later, "a probe's failure sets the time too")
        },
        Check(name: "pruning removes closed circuits idle for the period, nothing else") { context in
            let factory = try context.factory(checkSettings, batch: 1)
            try await fail(try factory.breaker(for: "idle"))
            try await fail(try factory.breaker(for: "open"), times: 3)
            try await factory.forceClosed("held")
            context.clock.advance(by: .seconds(50))
            try await succeed(try factory.breaker(for: "recent"))
            context.clock.advance(by: .seconds(10))
            try expectEqual(try await factory.prune(idleFor: .seconds(30)), ["idle"], "pruned")
            try expectEqual(
                try await factory.snapshots().map(\.record.name), ["held", "open", "recent"], "circuits left")
        },
    ]
}
