import Circuitry

/// The transitions that commit after a history position, as they commit, whatever process makes them: what
/// `circuitry history --follow` prints and what `circuitry serve` sends as server-sent events.
///
/// It polls the store's history read (``BreakerFactory/history(of:afterID:limit:)``, a plain read that takes no lock
/// and holds no transaction between polls) every ``pollInterval``, in pages of ``pageSize`` until caught up, so that a
/// burst arrives at once. Each transition is delivered once, in history order, without gaps: the next read starts
/// after the id of the last one delivered.
///
/// This is the one place where the command follows the history; a library sequence of transitions can replace its
/// iterator without changing its users.
package struct TransitionFeed: AsyncSequence, Sendable {
    package typealias Element = HistoryEntry

    /// The factory whose store's history is read.
    package var factory: BreakerFactory
    /// Only this circuit's transitions, or every circuit's.
    package var circuit: String?
    /// The history id after which the feed starts: nothing at or before it is delivered.
    package var afterID: Int64
    /// How long to wait before looking again when caught up.
    package var pollInterval: Duration
    /// How many transitions one read returns at most.
    package var pageSize: Int
    /// Ends the feed (between reads) when it returns `true`: a signal was caught, the server is shutting down.
    package var isStopped: @Sendable () -> Bool

    /// A feed of the transitions after `afterID`.
    package init(
        factory: BreakerFactory, circuit: String? = nil, afterID: Int64, pollInterval: Duration = .milliseconds(200),
        pageSize: Int = 100, isStopped: @escaping @Sendable () -> Bool = { false }
    ) {
        self.factory = factory
        self.circuit = circuit
        self.afterID = afterID
        self.pollInterval = pollInterval
        self.pageSize = Swift.max(1, pageSize)
        self.isStopped = isStopped
    }

    /// The id of the latest transition in the history (of ``circuit``), or 0 if it has none: where a feed of what
    /// comes next starts.
    package static func latestID(factory: BreakerFactory, circuit: String? = nil) async throws -> Int64 {
        try await factory.history(of: circuit, limit: 1).last?.id ?? 0
    }

    package func makeAsyncIterator() -> Iterator { Iterator(feed: self, lastID: afterID) }

    /// Reads pages after the last id delivered; sleeps when caught up. Ends (with `nil`) when the feed is stopped or
    /// its task cancelled; throws what the store throws.
    package struct Iterator: AsyncIteratorProtocol {
        let feed: TransitionFeed
        var lastID: Int64
        var buffered: [HistoryEntry] = []
        var nextIndex = 0

        package mutating func next() async throws -> HistoryEntry? {
            while nextIndex == buffered.count {
                if Task.isCancelled || feed.isStopped() { return nil }
                let page = try await feed.factory.history(of: feed.circuit, afterID: lastID, limit: feed.pageSize)
                // Only ids after the last one delivered: a store that answered out of order must not repeat one.
                buffered = page.filter { $0.id > lastID }
                nextIndex = 0
                if buffered.isEmpty {
                    try? await Task.sleep(for: feed.pollInterval)
                }
            }
            let entry = buffered[nextIndex]
            nextIndex += 1
            lastID = entry.id
            return entry
        }
    }
}
