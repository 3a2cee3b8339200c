import Foundation
import Logging
import Synchronization
import Testing

@testable import Circuitry

/// `BreakerFactory.Configuration.maximumStaleness`: a process admits calls on a closed circuit from its own view, at
/// most the bound old, and asks the store about everything else. Two factories on one SQLite file stand for two
/// processes (the cross-process suites run the guarantees with real processes and the view on); the one with the view
/// counts what it asks its store, and its monotonic clock moves with the store's wall clock, by hand.
@Suite struct LocalViewTests {
    static let bound = Duration.milliseconds(100)

    /// A store that counts the reads and updates passed on to the real one.
    final class CountingStore: CircuitStore {
        let base: SQLiteCircuitStore
        private let counts = Mutex((reads: 0, updates: 0))

        init(_ base: SQLiteCircuitStore) { self.base = base }

        var reads: Int { counts.withLock { $0.reads } }
        var updates: Int { counts.withLock { $0.updates } }

        func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
            counts.withLock { $0.reads += 1 }
            return try await base.read(name)
        }

        func update<Value: Sendable>(
            _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
        ) async throws -> Value {
            counts.withLock { $0.updates += 1 }
            return try await base.update(name, body)
        }

        func list() async throws -> (records: [CircuitRecord], now: Timestamp) { try await base.list() }
        func remove(_ name: String) async throws -> Bool { try await base.remove(name) }
        func removeIdle(idleFor: Duration) async throws -> [String] { try await base.removeIdle(idleFor: idleFor) }
        func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
            try await base.history(of: name, afterID: afterID, limit: limit)
        }
        var historyLimit: Int { base.historyLimit }
    }

    /// Two processes on one database: `viewing` admits from a view at most `bound` old, `other` asks the store always.
    struct Processes {
        let folder: TemporaryFolder
        let wall = ManualClock()
        let monotonic = ManualMonotonicClock()
        let counted: CountingStore
        let otherStore: SQLiteCircuitStore
        let viewing: BreakerFactory
        let other: BreakerFactory

        init(settings: BreakerSettings = BreakerSettings(failureThreshold: 2, openDuration: .seconds(10))) throws {
            folder = try TemporaryFolder()
            let path = folder.path("view.sqlite")
            counted = CountingStore(try SQLiteCircuitStore(path: path, clock: wall))
            otherStore = try SQLiteCircuitStore(path: path, clock: wall)
            var configuration = BreakerFactory.Configuration(settings: settings)
            configuration.maximumStaleness = LocalViewTests.bound
            configuration.monotonicClock = { [monotonic] in monotonic.read() }
            viewing = try BreakerFactory(store: counted, configuration: configuration, logger: Logger(label: "viewing"))
            other = try BreakerFactory(
                store: otherStore, configuration: BreakerFactory.Configuration(settings: settings),
                logger: Logger(label: "other"))
        }

        /// Time passes for both processes and the store.
        func pass(_ duration: Duration) {
            wall.advance(by: duration)
            monotonic.advance(by: duration)
        }

        func close() {
            counted.base.close()
            otherStore.close()
        }
    }

    struct Down: Error {}

    @Test func aHealthyCircuitIsAskedAboutAboutOncePerBound() async throws {
        let processes = try Processes()
        defer { processes.close() }
        let breaker = try processes.viewing.breaker(for: "healthy")
        try await breaker.execute {}  // the circuit's first call writes its record, and the view keeps it
        let (reads, updates) = (processes.counted.reads, processes.counted.updates)
        for _ in 0..<200 {
            try await breaker.execute {}
            processes.pass(.microseconds(400))  // 200 calls in 80 ms: within the bound
        }
        #expect(processes.counted.reads == reads, "no call asked the store")
        #expect(processes.counted.updates == updates, "every success was batched")
        processes.pass(.milliseconds(21))
        try await breaker.execute {}
        #expect(processes.counted.reads == reads + 1, "past the bound, the next call asks the store once")
        try await breaker.execute {}
        #expect(processes.counted.reads == reads + 1)
        try await processes.viewing.flush()
        #expect(try await processes.other.snapshot(of: "healthy")?.record.counts.successes == 203)
    }

    @Test func aTripByAnotherProcessIsSeenWithinTheBound() async throws {
        let processes = try Processes()
        defer { processes.close() }
        let breaker = try processes.viewing.breaker(for: "trip")
        try await breaker.execute {}
        let generation = try #require(try await processes.other.snapshot(of: "trip")).record.generation
        // The other process trips the circuit.
        let theirs = try processes.other.breaker(for: "trip")
        for _ in 0..<2 { _ = try? await theirs.execute { throw Down() } }
        let tripped = try #require(try await processes.other.snapshot(of: "trip")).record
        #expect(tripped.state == .open)

        // This process still admits from its view, in the closed generation, until the view is the bound old.
        processes.pass(.milliseconds(60))
        let permit = try await breaker.acquire()
        #expect(permit.generation == generation && permit.lease == nil)
        try await breaker.record(.success, for: permit)
        processes.pass(.milliseconds(40))
        _ = try await breaker.acquire()
        processes.pass(.milliseconds(1))
        await #expect(throws: CircuitRejected.self) { try await breaker.acquire() }

        // The rejection came from the store: the view keeps the open record and never admits from it.
        let reads = processes.counted.reads
        for _ in 0..<3 {
            await #expect(throws: CircuitRejected.self) { try await breaker.acquire() }
        }
        #expect(processes.counted.reads == reads + 3, "an open circuit is asked about on every call")
        // Nothing this process did while its view was old changed the other process's trip.
        #expect(try await processes.otherStore.read("trip").record == tripped)
    }

    @Test func aFailureWrittenByThisProcessShowsItTheOpenCircuitAtOnce() async throws {
        let processes = try Processes()
        defer { processes.close() }
        let breaker = try processes.viewing.breaker(for: "own")
        try await breaker.execute {}
        let theirs = try processes.other.breaker(for: "own")
        for _ in 0..<2 { _ = try? await theirs.execute { throw Down() } }
        let tripped = try await processes.otherStore.read("own").record

        // Admitted from the view; its failure is written at once, finds the circuit open and is not counted.
        let ran = Mutex(0)
        await #expect(throws: Down.self) {
            try await breaker.execute {
                ran.withLock { $0 += 1 }
                throw Down()
            }
        }
        // The write showed this process the open circuit: the next call is rejected without waiting for the bound.
        await #expect(throws: CircuitRejected.self) { try await breaker.execute { ran.withLock { $0 += 1 } } }
        #expect(ran.withLock { $0 } == 1)
        #expect(try await processes.otherStore.read("own").record == tripped)
    }

    @Test func probesAndOverridesGoToTheStore() async throws {
        let processes = try Processes(
            settings: BreakerSettings(failureThreshold: 1, closeThreshold: 1, openDuration: .seconds(1)))
        defer { processes.close() }
        let breaker = try processes.viewing.breaker(for: "probe")
        _ = try? await breaker.execute { throw Down() }  // trips it
        processes.pass(.seconds(1))
        // Half-open: one probe, admitted by a write, holds the budget in every process.
        let probe = try await breaker.acquire()
        #expect(probe.lease != nil)
        await #expect(throws: CircuitRejected.self) { try await processes.other.breaker(for: "probe").acquire() }
        await #expect(throws: CircuitRejected.self) { try await breaker.acquire() }
        try await breaker.record(.success, for: probe)
        #expect(try await breaker.state() == .closed)

        // An operator forces it open in another process: seen by this one within the bound.
        try await processes.other.forceOpen("probe", reason: "maintenance")
        processes.pass(Self.bound + .milliseconds(1))
        await #expect(throws: CircuitRejected.self) { try await breaker.acquire() }
        // Reset by the other process: an open circuit is always asked about, so the next call sees it closed.
        try await processes.other.reset("probe")
        let permit = try await breaker.acquire()
        #expect(permit.lease == nil)
        try await breaker.record(.success, for: permit)
    }

    @Test func successesAfterAnotherProcesssFailureWithinTheBoundAreBatchedAndNothingIsLost() async throws {
        let processes = try Processes(settings: BreakerSettings(failureThreshold: 100, openDuration: .seconds(10)))
        defer { processes.close() }
        let breaker = try processes.viewing.breaker(for: "mixed")
        try await breaker.execute {}
        _ = try? await processes.other.breaker(for: "mixed").execute { throw Down() }
        // Within the bound this process still sees no failure, so it batches its successes.
        for _ in 0..<5 { try await breaker.execute {} }
        let stored = try #require(try await processes.other.snapshot(of: "mixed"))
        #expect(stored.record.counts.consecutiveFailures == 1 && stored.record.counts.successes == 0)
        // Every outcome is counted after a flush; the batched successes count as before the failure.
        try await processes.viewing.flush()
        let flushed = try #require(try await processes.other.snapshot(of: "mixed"))
        let counts = flushed.record.counts
        #expect(counts.successes == 6 && counts.failures == 1 && counts.requests == 7)
        #expect(flushed.record.counts.consecutiveFailures == 1)
        // Past the bound, the view is refreshed and a success after the failure is written at once, ending the run.
        processes.pass(Self.bound + .milliseconds(1))
        try await breaker.execute {}
        #expect(try await processes.other.snapshot(of: "mixed")?.record.counts.consecutiveFailures == 0)
    }

    @Test func aForgottenCircuitIsAskedAboutAgain() async throws {
        let processes = try Processes()
        defer { processes.close() }
        let breaker = try processes.viewing.breaker(for: "gone")
        try await breaker.execute {}
        #expect(try await processes.viewing.forget("gone"))
        let reads = processes.counted.reads
        try await breaker.execute {}
        #expect(processes.counted.reads == reads + 1)
        #expect(try await processes.other.snapshot(of: "gone") != nil, "the call started a new life of the circuit")
    }

    @Test func callsAdmittedFromAViewOfAForgottenCircuitBelongToItsEarlierLife() async throws {
        let processes = try Processes()
        defer { processes.close() }
        let breaker = try processes.viewing.breaker(for: "forgotten")
        try await breaker.execute {}
        let earlier = try #require(try await processes.otherStore.read("forgotten").record).generation
        #expect(try await processes.other.forget("forgotten"))

        // Within the bound this process still admits in the earlier life; the failure's write finds no record, writes
        // nothing, and shows this process that the circuit is gone.
        let permit = try await breaker.acquire()
        #expect(permit.generation == earlier)
        try await breaker.record(.failure, for: permit)
        #expect(try await processes.otherStore.read("forgotten").record == nil)
        // The next call asks the store and starts a new life, which counts nothing of the earlier one.
        let reads = processes.counted.reads
        let next = try await breaker.acquire()
        #expect(processes.counted.reads == reads + 1)
        #expect(next.generation != earlier)
        let record = try #require(try await processes.otherStore.read("forgotten").record)
        #expect(record.counts.failures == 0 && record.counts.requests == 0)
    }

    @Test func theBoundMustBeShorterThanEveryOpenPeriod() throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteCircuitStore(path: folder.path("bound.sqlite"))
        defer { store.close() }
        func refusal(_ staleness: Duration, byBaseName: [String: BreakerSettings] = [:]) -> ConfigurationError? {
            var configuration = BreakerFactory.Configuration(settings: BreakerSettings(openDuration: .seconds(2)))
            configuration.settingsByBaseName = byBaseName
            configuration.maximumStaleness = staleness
            do {
                _ = try BreakerFactory(store: store, configuration: configuration, logger: Logger(label: "bound"))
                return nil
            } catch {
                return error as? ConfigurationError
            }
        }
        #expect(refusal(.milliseconds(1999)) == nil)
        #expect(refusal(.seconds(2))?.setting == "maximumStaleness")
        #expect(refusal(.zero)?.setting == "maximumStaleness")
        #expect(refusal(.microseconds(999))?.setting == "maximumStaleness")
        #expect(refusal(.milliseconds(-5))?.setting == "maximumStaleness")
        let short = ["quick": BreakerSettings(openDuration: .milliseconds(500))]
        let error = refusal(.milliseconds(500), byBaseName: short)
        #expect(error?.setting == "maximumStaleness")
        #expect(error?.message.contains("0.5 seconds") == true, "\(String(describing: error))")
    }
}
