import Circuitry

extension StoreConformance {
    /// ``BreakerFactory/Configuration/settingsByBaseName``: one factory, each upstream with its own thresholds.
    static let settingsByBaseNameChecks: [Check] = [
        Check(name: "two base names with different thresholds on one factory trip at their own thresholds") {
            context in
            let factory = try context.factory(BreakerSettings(failureThreshold: 5, openDuration: .seconds(60))) {
                $0.settingsByBaseName = [
                    "send-email": BreakerSettings(failureThreshold: 2, openDuration: .seconds(10)),
                    "charge-card": BreakerSettings(failureThreshold: 4, openDuration: .seconds(30)),
                ]
                $0.naming = { base, context in "\(base)/\(context["tenant"] ?? "-")" }
            }
            let email = try factory.breaker(for: "send-email", context: ["tenant": "t1"])
            let otherTenant = try factory.breaker(for: "send-email", context: ["tenant": "t2"])
            let card = try factory.breaker(for: "charge-card", context: ["tenant": "t1"])
            let other = try factory.breaker(for: "geocode", context: ["tenant": "t1"])
            try await fail(email)
            try await fail(card, times: 3)
            try await fail(other, times: 4)
            try await fail(otherTenant)
            for (breaker, what) in [(email, "email"), (card, "card"), (other, "other"), (otherTenant, "email t2")] {
                try expectEqual(try await breaker.state(), .closed, "\(what) below its threshold")
            }
            try await fail(email)
            try expectEqual(try await email.state(), .open, "send-email trips at 2")
            try await fail(card)
            try expectEqual(try await card.state(), .open, "charge-card trips at 4")
            try await fail(other)
            try expectEqual(try await other.state(), .open, "a base name without settings trips at the factory's 5")
            try await fail(otherTenant)
            try expectEqual(try await otherTenant.state(), .open, "every tenant of send-email trips at 2")

            // Each open period is its base name's.
            context.clock.advance(by: .seconds(10))
            try expectEqual(try await email.state(), .halfOpen, "send-email opens for 10 s")
            try expectEqual(try await card.state(), .open, "charge-card opens for 30 s")
            context.clock.advance(by: .seconds(20))
            try expectEqual(try await card.state(), .halfOpen, "charge-card opens for 30 s")
            try expectEqual(try await other.state(), .open, "the factory's 60 s")
        },
        Check(name: "an operation by name uses the settings listed under the name") { context in
            let factory = try context.factory(BreakerSettings(failureThreshold: 5, openDuration: .seconds(60))) {
                $0.settingsByBaseName = ["send-email": BreakerSettings(failureThreshold: 1, openDuration: .seconds(10))]
            }
            try await fail(try factory.breaker(for: "send-email"))
            context.clock.advance(by: .seconds(10))
            try expectEqual(
                try await factory.snapshot(of: "send-email")?.record.state, .halfOpen, "read with its 10 s")
        },
        Check(name: "settings by base name are validated, and the error names the base name") { context in
            let error = try await expectThrows(ConfigurationError.self, "a threshold of 0") {
                _ = try context.factory {
                    $0.settingsByBaseName = [
                        "good": BreakerSettings(failureThreshold: 3), "bad": BreakerSettings(failureThreshold: 0),
                    ]
                }
            }
            try expectEqual(error.setting, "settingsByBaseName[\"bad\"].failureThreshold", "the setting at fault")
        },
    ]
}
