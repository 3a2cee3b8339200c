/// Where a ``TransitionWatch`` starts in the store's history.
public enum HistoryPosition: Sendable, Hashable {
    /// After the last transition committed when the watch reads the history for the first time (its first `next()`):
    /// only transitions committed from then on.
    case latest
    /// After the transition whose ``HistoryEntry/id`` is `id`: what a watcher saves, after each event it has handled,
    /// to resume where it stopped. `0` is before the first transition the store ever committed.
    case after(Int64)
}

/// What a ``TransitionWatch`` yields: a transition, or the news that some of a circuit's transitions are gone.
public enum HistoryEvent: Sendable, Hashable {
    /// A transition committed after the watch's position, in commit order.
    case transition(HistoryEntry)
    /// Transitions of one circuit after the watch's position were pruned before the watch read them (each circuit's
    /// history keeps only its newest ``CircuitStore/historyLimit`` transitions). It comes before the transitions that
    /// follow the gap; read the circuit's current state (``BreakerFactory/snapshot(of:)``) rather than rebuild it
    /// from the transitions.
    case missed(HistoryGap)

    /// The position to save after handling this event, to resume with ``HistoryPosition/after(_:)``: a transition's
    /// id, or for a gap the position it was found after (resuming there reports the gap again).
    public var position: Int64 {
        switch self {
        case .transition(let entry): entry.id
        case .missed(let gap): gap.after
        }
    }
}

/// Transitions of one circuit that a ``TransitionWatch`` may have missed because the store pruned them.
public struct HistoryGap: Sendable, Hashable {
    /// The circuit whose transitions are missing.
    public var circuit: String
    /// The watch's position when it found the gap: the missing transitions have greater ids than this.
    public var after: Int64
    /// The id of the circuit's oldest transition the history still holds after ``after``: the missing transitions have
    /// smaller ids than this. The watch yields it next (for this circuit).
    public var before: Int64

    /// Creates a gap.
    public init(circuit: String, after: Int64, before: Int64) {
        self.circuit = circuit
        self.after = after
        self.before = before
    }
}

/// The transitions of every process that shares a store, as they commit: an `AsyncSequence` read from the store's
/// history (``CircuitStore/history(of:afterID:limit:)``), which any process can read: a dashboard, an alerting job,
/// `circuitry history --follow`. Made by ``BreakerFactory/transitions(of:after:pollInterval:)``.
///
/// ```swift
/// var position: Int64 = loadSavedPosition() ?? 0
/// for try await event in breakers.transitions(after: .after(position)) {
///     switch event {
///     case .transition(let entry): alert(entry.transition)
///     case .missed(let gap): resynchronise(gap.circuit)  // pruned unread: read the circuit's state instead
///     }
///     position = event.position  // save it: a new watch after it resumes without gaps or repeats
/// }
/// ```
///
/// **Once each, in commit order.** History ids increase in commit order in every store (their writers are in line),
/// so a watch that reads the ids after its position never sees a transition twice and never skips one that the
/// history holds. The state-change callback (``BreakerFactory/Configuration/onStateChange``) still fires only in the
/// committing process; the watch is for everyone else.
///
/// **Resuming.** Save ``HistoryEvent/position`` of each event once handled; a new watch started
/// ``HistoryPosition/after(_:)`` that position yields exactly the events after it, without gaps or repeats, provided
/// the history still holds them.
///
/// **Pruning.** Each circuit's history keeps its newest ``CircuitStore/historyLimit`` transitions. If a circuit
/// committed more than that since the watch's position (a watcher that was stopped for long, or one that fell behind
/// a flapping circuit), the oldest of them are gone: the watch yields ``HistoryEvent/missed(_:)`` for that circuit
/// before the transitions it still has, never skipping them silently. It cannot tell a gap from exactly
/// `historyLimit` transitions of one circuit since the position with none pruned (the history keeps no record of
/// what it pruned), so it reports a gap then too: a gap is "may have missed", never a false "missed nothing".
///
/// **Polling.** The watch reads the history every `pollInterval` while it is caught up (a plain read: no lock in
/// any store), and page after page without waiting while it catches up. Each poll that finds nothing is one read of
/// the history; one that finds transitions adds no read unless a page is full or holds a whole `historyLimit` of one
/// circuit (then one read of that circuit's history per circuit on the page, to look for a gap).
///
/// **Ending.** The sequence ends (`nil`) when the task iterating it is cancelled, and not otherwise. A store error is
/// thrown, which ends the iteration: start a new watch after the last position handled to go on.
public struct TransitionWatch: AsyncSequence, Sendable {
    /// Events: transitions, and gaps where the history was pruned.
    public typealias Element = HistoryEvent

    let store: any CircuitStore
    let circuit: String?
    let start: HistoryPosition
    let pollInterval: Duration
    /// How many transitions one read asks for.
    let pageSize: Int

    /// Makes an iterator, which starts reading at its first `next()`.
    public func makeAsyncIterator() -> Iterator {
        Iterator(watch: self)
    }

    /// Reads the history as ``TransitionWatch`` describes. Not `Sendable`: one task iterates it.
    public struct Iterator: AsyncIteratorProtocol {
        let watch: TransitionWatch
        /// The id of the last transition read (yielded or buffered); `nil` before the first read of ``HistoryPosition/latest``.
        var position: Int64?
        /// Events read and not yet yielded, oldest first.
        var pending: [HistoryEvent] = []
        var pendingIndex = 0
        var finished = false

        init(watch: TransitionWatch) {
            self.watch = watch
            if case .after(let id) = watch.start { position = Swift.max(0, id) }
        }

        /// The next event: at once if one is read already, else after polling until the history has one.
        /// - Returns: `nil` once the task is cancelled.
        /// - Throws: The store's error; the iteration then ends.
        public mutating func next() async throws -> HistoryEvent? {
            guard !finished else { return nil }
            do {
                while pendingIndex == pending.count {
                    if Task.isCancelled { return finish() }
                    if try await !read() {
                        do {
                            try await Task.sleep(for: watch.pollInterval)
                        } catch {
                            return finish()
                        }
                    }
                }
            } catch {
                finished = true
                throw error
            }
            defer { pendingIndex += 1 }
            return pending[pendingIndex]
        }

        private mutating func finish() -> HistoryEvent? {
            finished = true
            return nil
        }

        /// Reads the next page after the position into `pending`; returns whether it found anything.
        private mutating func read() async throws -> Bool {
            let store = watch.store
            guard let after = position else {
                // `.latest`: the position is the newest transition now; nothing to yield yet.
                position = try await store.history(of: watch.circuit, afterID: nil, limit: 1).last?.id ?? 0
                return false
            }
            let page = try await store.history(of: watch.circuit, afterID: after, limit: watch.pageSize)
            guard let last = page.last else { return false }
            var events: [HistoryEvent] = []
            events.reserveCapacity(page.count + 1)
            // A circuit's transitions after `after` were pruned only if the history now holds a whole `historyLimit`
            // of them after `after` (pruning keeps the newest `historyLimit`, and ids only grow). A page that is not
            // full holds every such transition: count them there. A full one may not: ask the circuit's history.
            let limit = store.historyLimit
            var firstOnPage: [String: Int64] = [:]
            var countOnPage: [String: Int] = [:]
            var order: [String] = []
            for entry in page {
                let name = entry.transition.circuit
                if firstOnPage[name] == nil {
                    firstOnPage[name] = entry.id
                    order.append(name)
                }
                countOnPage[name, default: 0] += 1
            }
            for name in order {
                let count: Int
                if page.count < watch.pageSize {
                    count = countOnPage[name] ?? 0
                } else {
                    count = try await store.history(of: name, afterID: after, limit: limit).count
                }
                if count >= limit, let first = firstOnPage[name] {
                    events.append(.missed(HistoryGap(circuit: name, after: after, before: first)))
                }
            }
            events += page.map(HistoryEvent.transition)
            pending = events
            pendingIndex = 0
            position = last.id
            return true
        }
    }
}

extension BreakerFactory {
    /// The transitions of every process sharing the store, as they commit, from `position` on: see
    /// ``TransitionWatch``.
    ///
    /// - Parameters:
    ///   - name: Only this circuit's transitions (its full name); `nil` for every circuit.
    ///   - position: Where to start: ``HistoryPosition/latest`` (default) or after a saved ``HistoryEvent/position``.
    ///   - pollInterval: How long to wait before reading the history again once caught up. Default 200 ms; at least
    ///     1 ms.
    public func transitions(
        of name: String? = nil, after position: HistoryPosition = .latest, pollInterval: Duration = .milliseconds(200)
    ) -> TransitionWatch {
        TransitionWatch(
            store: engine.store, circuit: name.map(CircuitName.nfc), start: position,
            pollInterval: max(pollInterval, .milliseconds(1)), pageSize: 100)
    }
}
