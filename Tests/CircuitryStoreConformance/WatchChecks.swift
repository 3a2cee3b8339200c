import Circuitry

extension StoreConformance {
    /// ``TransitionWatch`` over the store's history: once each, in order, resumable, and gaps said out loud.
    static let watchChecks: [Check] = [
        Check(name: "a watch yields every transition once, in commit order, and resumes after a saved position") {
            context in
            let factory = try context.factory()
            try await appendTransitions(context.store, circuits: ["a", "b", "c"], each: 3)
            var events: [HistoryEvent] = []
            for try await event in factory.transitions(after: .after(0), pollInterval: .milliseconds(1)) {
                events.append(event)
                if events.count == 9 { break }
            }
            let history = try await context.store.history(of: nil, afterID: 0, limit: 1000)
            try expectEqual(events, history.map(HistoryEvent.transition), "the events are the history")
            // Resuming after the fourth: the other five, and those committed since.
            try await appendTransitions(context.store, circuits: ["c"], each: 2)
            var resumed: [HistoryEvent] = []
            for try await event in factory.transitions(
                after: .after(events[3].position), pollInterval: .milliseconds(1))
            {
                resumed.append(event)
                if resumed.count == 7 { break }
            }
            let all = try await context.store.history(of: nil, afterID: 0, limit: 1000)
            try expectEqual(resumed, all.dropFirst(4).map(HistoryEvent.transition), "resumed after a position")
            // One circuit only, from the latest: the first poll takes the newest id as the position, at a moment a
            // test cannot see, so transitions of `a` and `b` are committed until the watch yields one: only `b`'s,
            // and only one committed after the watch began.
            let watch = factory.transitions(of: "b", after: .latest, pollInterval: .milliseconds(1))
            let next = try await withThrowingTaskGroup(of: HistoryEvent?.self) { group in
                group.addTask {
                    var iterator = watch.makeAsyncIterator()
                    return try await iterator.next()
                }
                group.addTask {
                    for _ in 0..<2000 {
                        try await appendTransitions(context.store, circuits: ["a", "b"], each: 1)
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            guard case .transition(let entry) = next else {
                throw ConformanceFailure(message: "expected a transition, got \(String(describing: next))", line: #line)
            }
            try expectEqual(entry.transition.circuit, "b", "a watch of one circuit yields only its transitions")
            try expect(entry.id > all.last?.id ?? 0, "a watch from the latest yields only later transitions")
        },
        Check(name: "a watch says which circuit's transitions were pruned past its position, and skips nothing else") {
            context in
            let factory = try context.factory()
            try await appendTransitions(context.store, circuits: ["flappy", "calm"], each: 1)
            let position = try await context.store.history(of: nil, afterID: nil, limit: 1).last?.id ?? 0
            // 150 on three circuits, 50 each, after the position: a full first page and no gap.
            try await appendTransitions(context.store, circuits: ["x", "y", "z"], each: 50)
            let expected = try await context.store.history(of: nil, afterID: position, limit: 1000)
            try expectEqual(expected.count, 150, "transitions after the position")
            var events: [HistoryEvent] = []
            for try await event in factory.transitions(after: .after(position), pollInterval: .milliseconds(1)) {
                events.append(event)
                if events.count == 150 { break }
            }
            try expectEqual(events, expected.map(HistoryEvent.transition), "no gap where nothing was pruned")

            // 105 of `flappy` after the position: the history keeps its newest 100, and the watch must say so.
            let before = try await context.store.history(of: nil, afterID: nil, limit: 1).last?.id ?? 0
            try await appendTransitions(context.store, circuits: ["flappy"], each: 105)
            try await appendTransitions(context.store, circuits: ["calm"], each: 1)
            let kept = try await context.store.history(of: nil, afterID: before, limit: 1000)
            try expectEqual(kept.count, 101, "kept after the position")
            var seen: [HistoryEvent] = []
            for try await event in factory.transitions(after: .after(before), pollInterval: .milliseconds(1)) {
                seen.append(event)
                if seen.count == 102 { break }
            }
            let gap = HistoryGap(circuit: "flappy", after: before, before: kept[0].id)
            try expectEqual(seen.first, .missed(gap), "the gap comes first")
            try expectEqual(Array(seen.dropFirst()), kept.map(HistoryEvent.transition), "then every kept transition")
            try expectEqual(seen.first?.position, before, "a gap's position is the one it was found after")
        },
    ]
}

/// Appends `each` transitions to each circuit, round-robin, one update per transition.
func appendTransitions(_ store: any CircuitStore, circuits: [String], each: Int) async throws {
    for index in 0..<each {
        for circuit in circuits {
            try await store.update(circuit) { _, now in
                StoreUpdate(
                    value: (), write: false,
                    transitions: [transition(circuit, index % 2 == 0 ? .closed : .open, .halfOpen, now)])
            }
        }
    }
}
