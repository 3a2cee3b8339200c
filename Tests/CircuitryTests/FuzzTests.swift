import Circuitry
import CircuitryStoreConformance
import Foundation
import Synchronization
import Testing

/// Random operation sequences (``ModelScenario``) over the in-memory store and a real SQLite file, checked by
/// ``ModelRunner`` against the invariants and against eager (timer) and unbatched runs of the same sequence.
///
/// Each store gets a time budget: `CIRCUITRY_FUZZ_SECONDS` (default 1.5 s, which `make test` uses; `make fuzz`
/// sets more). Scenarios are numbered from `CIRCUITRY_FUZZ_SEED` (default 1), so a failure names the seed that
/// reproduces it: `make fuzz FUZZ_SEED=<seed> FUZZ_SECONDS=0` runs that scenario (and the next) again.
@Suite struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let budget = Duration.milliseconds(
        Int64((Double(environment["CIRCUITRY_FUZZ_SECONDS"] ?? "") ?? 1.5) * 1000))
    static let firstSeed = UInt64(environment["CIRCUITRY_FUZZ_SEED"] ?? "") ?? 1

    enum Store: String, CaseIterable, Sendable {
        case inMemory = "in-memory"
        case sqlite = "SQLite"
    }

    /// On a thread of its own: the stores' calls seldom suspend, so the loop would hold a thread of the cooperative pool
    /// for the whole budget, and with both stores at once both of its 2 threads — the wake-ups of every other test's
    /// `Task.sleep` waited for them (a timed SQLite wait test saw its 300 ms waits end after 1.5 s).
    @Test(arguments: Store.allCases)
    func randomSequencesKeepEveryInvariant(_ kind: Store) async throws {
        try await onItsOwnThread { try await fuzz(kind) }
    }

    private func fuzz(_ kind: Store) async throws {
        let folder = try TemporaryFolder()
        let started = ContinuousClock.now
        var seed = Self.firstSeed
        var steps = 0
        var coverage = ModelRunner.Coverage()
        // At least one scenario of each kind, then as many as the budget allows, each on a store of its own.
        repeat {
            let clock = ManualClock()
            let store: any CircuitStore =
                switch kind {
                case .inMemory: InMemoryCircuitStore(clock: clock)
                case .sqlite: try SQLiteCircuitStore(path: folder.path("fuzz-\(seed).sqlite"), clock: clock)
                }
            let scenario = ModelScenario(seed: seed, steps: 80, wild: seed % 2 == 0)
            coverage.add(try await ModelRunner(store: store, clock: clock).checkShrinking(scenario))
            if let sqlite = store as? SQLiteCircuitStore {
                sqlite.close()
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlite.path + suffix) }
            }
            steps += 80
            seed += 1
        } while ContinuousClock.now - started < Self.budget || seed < Self.firstSeed + 2
        let scenarios = seed - Self.firstSeed
        print(
            "fuzz (\(kind.rawValue)): \(scenarios) scenarios (seeds \(Self.firstSeed)...\(seed - 1)), \(steps) steps, "
                + "in \(ContinuousClock.now - started): \(coverage)")
        #expect(scenarios >= 2)
    }
}
