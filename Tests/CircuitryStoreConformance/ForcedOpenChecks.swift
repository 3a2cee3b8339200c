import Circuitry

extension StoreConformance {
    /// A forced-open period is counted on the store's clock, and an end that has passed is refused.
    static let forcedOpenChecks: [Check] = [
        Check(name: "forceOpen(for:) counts from the store's now; forceOpen(until:) refuses a time not ahead") {
            context in
            let factory = try context.factory(checkSettings)
            let breaker = try factory.breaker(for: "forced-for")
            let until = try await factory.forceOpen("forced-for", for: .seconds(300), reason: "deploy")
            try expectEqual(until, context.clock.now() + .seconds(300), "the end returned")
            let rejection = try await expectThrows(CircuitRejected.self, "a call while forced open") {
                try await succeed(breaker)
            }
            try expectEqual(rejection.retryAfter, until, "retryAfter")
            try expectEqual(rejection.reason, .forcedOpen("deploy"), "reason")
            context.clock.advance(by: .seconds(300))
            try expectEqual(try await breaker.state(), .halfOpen, "half-open when the period ends")

            for past in [context.clock.now(), context.clock.now() - .seconds(60)] {
                let refused = try await expectThrows(ConfigurationError.self, "forceOpen(until: \(past))") {
                    try await factory.forceOpen("forced-until", until: past, reason: "late")
                }
                try expectEqual(refused.setting, "until", "the setting refused")
            }
            try expect(try await factory.snapshot(of: "forced-until")?.record.override == nil, "nothing was forced")
            _ = try await expectThrows(ConfigurationError.self, "forceOpen(for: 0)") {
                try await factory.forceOpen("forced-zero", for: .zero)
            }
        }
    ]
}
