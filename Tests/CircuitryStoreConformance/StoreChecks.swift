import Circuitry

extension StoreConformance {
    static let storeChecks: [Check] = [
        Check(name: "a circuit never written reads as nil, with the store's time") { context in
            let (record, now) = try await context.store.read("never-written")
            try expect(record == nil, "record of a circuit never written: \(String(describing: record))")
            try expectEqual(now, context.clock.now(), "store time")
        },
        Check(name: "every field round-trips") { context in
            let now = context.clock.now()
            let records = [
                CircuitRecord(
                    name: "send-email/tenant-ü 🚀", state: .halfOpen, generation: 7,
                    counts: CircuitCounts(
                        requests: 9, successes: 4, failures: 5, consecutiveSuccesses: 1, consecutiveFailures: 0),
                    expiresAt: nil,
                    probes: [
                        ProbeLease(id: .max, deadline: now + .seconds(30)), ProbeLease(id: 1, deadline: now),
                    ],
                    override: nil, openAttempts: 3,
                    window: [
                        WindowBucket(start: now, calls: 10, failures: 4, slowCalls: 1),
                        WindowBucket(start: now + .seconds(6), calls: .max, failures: 0, slowCalls: 0),
                    ],
                    updatedAt: now),
                CircuitRecord(
                    name: "forced-open", state: .open, generation: 1 << 40, counts: .zero,
                    expiresAt: now + .seconds(90), probes: [],
                    override: .forcedOpen(until: now + .seconds(90), reason: "maintenance, 'quoted'"),
                    openAttempts: 1, updatedAt: now),
                CircuitRecord(
                    name: "forced-open-forever", state: .open, generation: 2, counts: .zero, expiresAt: nil,
                    probes: [], override: .forcedOpen(until: nil, reason: nil), openAttempts: 0, updatedAt: now),
                CircuitRecord(
                    name: "forced-closed", state: .closed, generation: 3,
                    counts: CircuitCounts(
                        requests: .max, successes: 0, failures: .max, consecutiveSuccesses: 0,
                        consecutiveFailures: .max),
                    expiresAt: now + .seconds(5), probes: [], override: .forcedClosed(reason: nil), openAttempts: 0,
                    updatedAt: now),
            ]
            for record in records {
                try await context.store.update(record.name) { stored, _ in
                    stored = record
                    return StoreUpdate(value: (), write: true)
                }
                let (read, _) = try await context.store.read(record.name)
                try expectEqual(read, record, "record read back")
            }
        },
        Check(name: "a write stamps updatedAt with the store's time") { context in
            context.clock.advance(by: .seconds(5))
            try await context.store.update("stamped") { stored, now in
                stored = CircuitRecord(name: "stamped", createdAt: Timestamp(millisecondsSince1970: 0))
                return StoreUpdate(value: (), write: true)
            }
            try expectEqual(try await context.store.read("stamped").record?.updatedAt, context.clock.now(), "updatedAt")
        },
        Check(name: "an update that does not ask to write leaves nothing") { context in
            let value = try await context.store.update("unwritten") { stored, now in
                stored = CircuitRecord(name: "unwritten", createdAt: now)
                return StoreUpdate(value: 42, write: false)
            }
            try expectEqual(value, 42, "value returned by update")
            try expect(try await context.store.read("unwritten").record == nil, "a record was written")
        },
        Check(name: "an update whose body throws writes nothing, history included") { context in
            let now = context.clock.now()
            do {
                try await context.store.update("thrown") { stored, now throws -> StoreUpdate<Void> in
                    stored = CircuitRecord(name: "thrown", createdAt: now)
                    _ = StoreUpdate(
                        value: (), write: true,
                        transitions: [transition("thrown", .closed, .open, now)])
                    throw Boom()
                }
                throw ConformanceFailure(message: "update did not rethrow the body's error", line: #line)
            } catch is Boom {}
            try expect(try await context.store.read("thrown").record == nil, "a record was written")
            try expectEqual(try await context.store.history(of: "thrown", afterID: nil, limit: 10), [], "history")
            _ = now
        },
        Check(name: "concurrent updates lose nothing") { context in
            let store = context.store
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await store.update("contended") { stored, now in
                            var record = stored ?? CircuitRecord(name: "contended", createdAt: now)
                            record.counts.failures += 1
                            stored = record
                            return StoreUpdate(value: (), write: true)
                        }
                    }
                }
                try await group.waitForAll()
            }
            try expectEqual(try await store.read("contended").record?.counts.failures, 50, "failures")
        },
        Check(name: "list returns every circuit ordered by name; remove deletes one and keeps its history") {
            context in
            for name in ["b", "a", "c"] {
                try await context.store.update(name) { stored, now in
                    stored = CircuitRecord(name: name, createdAt: now)
                    return StoreUpdate(
                        value: (), write: true, transitions: [transition(name, .closed, .open, now)])
                }
            }
            try expectEqual(try await context.store.list().records.map(\.name), ["a", "b", "c"], "listed names")
            try expect(try await context.store.remove("b"), "remove of an existing circuit returned false")
            try expect(try await !context.store.remove("b"), "remove of a removed circuit returned true")
            try expectEqual(
                try await context.store.list().records.map(\.name), ["a", "c"], "listed names after remove")
            try expectEqual(
                try await context.store.history(of: "b", afterID: nil, limit: 10).count, 1, "history after remove")
        },
        Check(name: "history keeps order, filters by circuit, pages after an id and keeps the last 100 per circuit") {
            context in
            for index in 0..<105 {
                try await context.store.update("busy") { _, now in
                    StoreUpdate(
                        value: (), write: false,
                        transitions: [transition("busy", index % 2 == 0 ? .closed : .open, .halfOpen, now)])
                }
                if index % 50 == 0 {
                    try await context.store.update("quiet") { _, now in
                        StoreUpdate(value: (), write: false, transitions: [transition("quiet", .closed, .open, now)])
                    }
                }
            }
            let busy = try await context.store.history(of: "busy", afterID: nil, limit: 1000)
            try expectEqual(busy.count, 100, "transitions kept for one circuit")
            try expect(zip(busy, busy.dropFirst()).allSatisfy { $0.id < $1.id }, "history not in id order")
            try expect(busy.allSatisfy { $0.transition.circuit == "busy" }, "history of one circuit has others")
            try expectEqual(
                try await context.store.history(of: "quiet", afterID: nil, limit: 1000).count, 3, "quiet history")
            let lastTwo = try await context.store.history(of: nil, afterID: nil, limit: 2)
            try expectEqual(lastTwo.count, 2, "limit")
            try expectEqual(lastTwo.last?.transition.circuit, "busy", "newest entry")
            let all = try await context.store.history(of: nil, afterID: nil, limit: 1000)
            let middle = all[all.count / 2].id
            let after = try await context.store.history(of: nil, afterID: middle, limit: 1000)
            try expectEqual(after.map(\.id), all.filter { $0.id > middle }.map(\.id), "entries after an id")
            let firstPage = try await context.store.history(of: nil, afterID: middle, limit: 3)
            try expectEqual(firstPage.map(\.id), Array(after.prefix(3).map(\.id)), "first page after an id")
            let entry = busy[0].transition
            try expectEqual(entry.reason, "test", "reason")
            try expectEqual(entry.actor, "conformance", "actor")
        },
    ]
}

func transition(_ name: String, _ from: CircuitState, _ to: CircuitState, _ at: Timestamp) -> CircuitTransition {
    CircuitTransition(circuit: name, from: from, to: to, generation: 1, at: at, reason: "test", actor: "conformance")
}
