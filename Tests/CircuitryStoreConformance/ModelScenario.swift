import Circuitry

/// SplitMix64: a small generator whose sequence depends only on its seed, the same on every platform, so that a
/// failing scenario is reproduced from its seed alone.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator that starts from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One random sequence of operations on a few circuits shared by a few factories (processes), with the settings
/// they all use. Made from a seed by ``ModelScenario/init(seed:steps:wild:)``; run by ``ModelRunner``.
public struct ModelScenario: Sendable, CustomStringConvertible {
    /// How a permit's call ended, as reported.
    enum Outcome: Sendable, Hashable {
        case success, failure, ignored
        /// A failure whose upstream asked not to be called for this many milliseconds.
        case failureOpenFor(Int64)
    }

    /// A generation a forged permit claims.
    enum Forgery: Sendable, Hashable {
        /// The circuit's current generation, read just before: a forgery the rules cannot tell from a real permit.
        case current
        case value(Int64)
    }

    /// One operation.
    enum Step: Sendable, Hashable {
        case acquire(factory: Int, circuit: Int)
        /// Reports the `permit`-th unreported permit (modulo the number held).
        case report(permit: Int, Outcome, durationMilliseconds: Int64?)
        /// Reports again a probe permit that was already reported: it must not count twice.
        case reportAgain(permit: Int, Outcome)
        case forged(factory: Int, circuit: Int, Forgery, lease: Int64?, admittedAt: Int64)
        case forceOpen(circuit: Int, forMilliseconds: Int64?)
        case forceClosed(circuit: Int)
        case reset(circuit: Int)
        case forget(circuit: Int)
        case prune(idleMilliseconds: Int64)
        case flush(factory: Int)
        /// Moves the clock forward.
        case advance(milliseconds: Int64)
        /// Moves the clock backward (a wall-clock step).
        case stepBack(milliseconds: Int64)
    }

    let seed: UInt64
    let settings: BreakerSettings
    /// The longest open period a circuit can be given: the policy's longest, or an upstream's wait.
    let longestOpen: Duration
    let factories: Int
    let circuits: Int
    /// Whether the scenario may step the clock back and prune: then lazy and eager runs may differ (a backward
    /// step is pulled in when it is first seen, which is when the next call looks), and batched and unbatched runs
    /// too (a circuit with only batched successes is idle for `prune`). Only the invariants are checked.
    let wild: Bool
    /// Where the clock starts, when not where it is: some wild scenarios start at the ends of time.
    let start: Timestamp?
    var steps: [Step]

    /// The scenario of `seed`: `steps` operations; `wild` allows backward clock steps and pruning.
    public init(seed: UInt64, steps count: Int, wild: Bool) {
        var random = SeededGenerator(seed: seed)
        self.seed = seed
        self.wild = wild
        factories = Int.random(in: 2...3, using: &random)
        circuits = Int.random(in: 2...3, using: &random)
        let openSeconds = Int64.random(in: 1...20, using: &random)
        var settings = BreakerSettings(
            failureThreshold: Int.random(in: 1...3, using: &random),
            closeThreshold: Int.random(in: 1...3, using: &random),
            openDuration: .seconds(openSeconds),
            probeTimeout: .milliseconds(Int64.random(in: 500...10_000, using: &random)))
        if Bool.random(using: &random) { settings.resetInterval = .seconds(Int64.random(in: 5...60, using: &random)) }
        if Bool.random(using: &random) { settings.slowCallDuration = .milliseconds(500) }
        var longest = Duration.seconds(openSeconds)
        if Bool.random(using: &random) {
            // Backoff that does not depend on the circuit's name (the runs compared use different names).
            settings.openDurationPolicy = .custom { attempt in .seconds(min(max(attempt, 1), 4) * openSeconds) }
            longest = .seconds(4 * openSeconds)
        }
        self.settings = settings
        // An upstream's wait (`failure(openUntil:)`) is at most a minute.
        longestOpen = max(longest, .seconds(60))
        let ends: [Int64] = [.max - 600_000, .min + 600_000, 0]
        start =
            wild && Int.random(in: 0..<6, using: &random) == 0
            ? Timestamp(millisecondsSince1970: ends.randomElement(using: &random)!) : nil
        var steps: [Step] = []
        for _ in 0..<count {
            steps.append(Self.step(&random, factories: factories, circuits: circuits, settings: settings, wild: wild))
        }
        self.steps = steps
    }

    private static func step(
        _ random: inout SeededGenerator, factories: Int, circuits: Int, settings: BreakerSettings, wild: Bool
    ) -> Step {
        let factory = Int.random(in: 0..<factories, using: &random)
        let circuit = Int.random(in: 0..<circuits, using: &random)
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<30:
            return .acquire(factory: factory, circuit: circuit)
        case 30..<55:
            let outcome: Outcome
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5: outcome = .success
            case 5..<8: outcome = .failure
            case 8: outcome = .ignored
            default: outcome = .failureOpenFor(Int64.random(in: 1...60_000, using: &random))
            }
            let duration: Int64? = Bool.random(using: &random) ? Int64.random(in: 0...1_000, using: &random) : nil
            return .report(permit: Int.random(in: 0..<1_000, using: &random), outcome, durationMilliseconds: duration)
        case 55..<58:
            let outcome: Outcome = [.success, .failure, .ignored].randomElement(using: &random)!
            return .reportAgain(permit: Int.random(in: 0..<1_000, using: &random), outcome)
        case 58..<61:
            let generation: Forgery =
                Bool.random(using: &random)
                ? .current
                : .value(
                    [.min, -1, 0, 1, .max, Int64.random(in: .min ... .max, using: &random)].randomElement(
                        using: &random)!)
            let lease: Int64? = [nil, .min, .max, Int64.random(in: .min ... .max, using: &random)].randomElement(
                using: &random)!
            let admittedAt: Int64 = [.min, .max, 0, 1_800_000_000_000].randomElement(using: &random)!
            return .forged(factory: factory, circuit: circuit, generation, lease: lease, admittedAt: admittedAt)
        case 61..<63:
            let until: Int64? = Bool.random(using: &random) ? Int64.random(in: 1...120_000, using: &random) : nil
            return .forceOpen(circuit: circuit, forMilliseconds: until)
        case 63..<65:
            return .forceClosed(circuit: circuit)
        case 65..<67:
            return .reset(circuit: circuit)
        case 67..<69:
            return .forget(circuit: circuit)
        case 69..<71 where wild:
            return .prune(idleMilliseconds: Int64.random(in: 0...120_000, using: &random))
        case 71..<75:
            return .flush(factory: factory)
        case 75..<78 where wild:
            return .stepBack(milliseconds: Int64.random(in: 1...7_200_000, using: &random))
        default:
            // Often exactly on, or just either side of, a deadline.
            let near = [
                settings.openDuration.components.seconds * 1000, settings.probeTimeout.components.seconds * 1000,
                (settings.resetInterval?.components.seconds ?? 5) * 1000,
            ]
            switch Int.random(in: 0..<4, using: &random) {
            case 0:
                return .advance(
                    milliseconds: near.randomElement(using: &random)! + Int64.random(in: -1...1, using: &random))
            case 1: return .advance(milliseconds: Int64.random(in: 0...999, using: &random))
            case 2: return .advance(milliseconds: Int64.random(in: 1_000...30_000, using: &random))
            default: return .advance(milliseconds: Int64.random(in: 30_000...600_000, using: &random))
            }
        }
    }

    /// The seed, the settings and the steps, one per line.
    public var description: String {
        let header =
            "seed \(seed): \(factories) factories, \(circuits) circuits, start \(start.map { "\($0)" } ?? "now"), "
            + "failureThreshold \(settings.failureThreshold), "
            + "closeThreshold \(settings.closeThreshold), open \(settings.openDuration), probe \(settings.probeTimeout), "
            + "reset \(settings.resetInterval.map { "\($0)" } ?? "none"), slow \(settings.slowCallDuration.map { "\($0)" } ?? "none")"
        return ([header] + steps.enumerated().map { "  \($0.offset): \($0.element)" }).joined(separator: "\n")
    }
}
