import Circuitry

extension StoreConformance {
    /// ``BreakerSettings/minimumReporters``: a circuit trips only on failures from that many distinct reporters, and
    /// its record keeps at most that many, whatever the number of reporters.
    static let reporterChecks: [Check] = [
        Check(name: "one reporter failing every call never trips a circuit that requires 2; a second one trips it") {
            context in
            var settings = BreakerSettings(failureThreshold: 3)
            settings.minimumReporters = 2
            let events = Events()
            let lone = try context.factory(settings) { $0.reporter = "worker-a" }
            let other = try context.factory(settings) {
                $0.reporter = "worker-b"
                $0.onStateChange = { events.append($0) }
            }
            try await fail(try lone.breaker(for: "shared"), times: 50)
            let alone = try await lone.breaker(for: "shared").snapshot().record
            try expectEqual(alone.state, .closed, "50 failures of one reporter")
            try expectEqual(alone.counts.consecutiveFailures, 50, "every failure counted")
            try expectEqual(
                alone.reporters, [FailureReporter(id: FailureReporter.id(of: "worker-a"), failures: 50)], "reporters")
            try await fail(try other.breaker(for: "shared"))
            try expectEqual(try await lone.breaker(for: "shared").state(), .open, "a second reporter's failure")
            try expectEqual(
                events.all.first?.transition.reason, "51 consecutive failures from 2 reporters", "the reason says so")
            try expectEqual(
                try await lone.breaker(for: "shared").snapshot().record.reporters, [], "cleared by the trip")
        },
        Check(name: "a success clears the reporters: they are those of the current run of failures") { context in
            var settings = BreakerSettings(failureThreshold: 2)
            settings.minimumReporters = 2
            let first = try context.factory(settings) { $0.reporter = "a" }
            let second = try context.factory(settings) { $0.reporter = "b" }
            try await fail(try first.breaker(for: "run"), times: 3)
            try await succeed(try second.breaker(for: "run"))
            try expectEqual(try await first.breaker(for: "run").snapshot().record.reporters, [], "after a success")
            try await fail(try second.breaker(for: "run"), times: 3)
            try expectEqual(try await first.breaker(for: "run").state(), .closed, "b alone since the success")
            try await fail(try first.breaker(for: "run"))
            try expectEqual(try await first.breaker(for: "run").state(), .open, "a and b in one run")
        },
        Check(name: "the record keeps at most minimumReporters reporters, with 1,000 of them failing") { context in
            var settings = BreakerSettings(failureThreshold: 1_000_000)
            settings.minimumReporters = BreakerSettings.maximumMinimumReporters
            for index in 0..<1000 {
                let factory = try context.factory(settings) { $0.reporter = "host-\(index % 10) pid \(index)" }
                try await fail(try factory.breaker(for: "fleet"))
            }
            let record = try await context.store.read("fleet").record
            try expectEqual(record?.counts.failures, 1000, "every failure counted")
            try expectEqual(record?.reporters.count, BreakerSettings.maximumMinimumReporters, "reporters kept")
            try expectEqual(
                Set(record?.reporters.map(\.id) ?? []).count, BreakerSettings.maximumMinimumReporters, "distinct")
        },
        Check(name: "minimumReporters is validated") { context in
            for bad in [0, BreakerSettings.maximumMinimumReporters + 1] {
                var settings = BreakerSettings()
                settings.minimumReporters = bad
                let error = try await expectThrows(ConfigurationError.self, "minimumReporters \(bad)") {
                    _ = try context.factory(settings)
                }
                try expectEqual(error.setting, "minimumReporters", "the setting at fault")
            }
        },
    ]
}
