import Circuitry
import Logging

/// The contract every ``CircuitStore`` must honour, as a list of checks that any test target can run.
///
/// ```swift
/// @Test(arguments: StoreConformance.checks)
/// func conformance(_ check: StoreConformance.Check) async throws {
///     try await check.run { clock in try SQLiteCircuitStore(path: newPath(), clock: clock) }
/// }
/// ```
/// `makeStore` must return a fresh, empty store that reads time from the given clock and keeps the default
/// history limit (100 transitions per circuit). The checks cover the store's own contract (round trips, atomicity,
/// history) and the breaker's semantics on top of it (DESIGN.md), with an injected clock: nothing sleeps.
public enum StoreConformance {
    /// Makes a fresh, empty store reading time from the clock.
    public typealias MakeStore = @Sendable (ManualClock) async throws -> any CircuitStore

    /// One named check.
    public struct Check: Sendable, CustomStringConvertible {
        /// What the check proves.
        public let name: String
        let body: @Sendable (Context) async throws -> Void

        /// Runs the check against stores made by `makeStore`; throws a ``ConformanceFailure`` if the store fails it.
        public func run(makeStore: MakeStore) async throws {
            let clock = ManualClock()
            try await body(Context(clock: clock, store: try await makeStore(clock)))
        }

        /// The check's name.
        public var description: String { name }
    }

    /// Every check, store contract first, then breaker semantics.
    public static var checks: [Check] {
        storeChecks + breakerChecks + policyChecks + cancellationChecks + forcedOpenChecks + edgeChecks + watchChecks
            + settingsByBaseNameChecks + reporterChecks
    }
}

/// A check found the store breaking the contract.
public struct ConformanceFailure: Error, CustomStringConvertible {
    /// What was expected and what was found.
    public let message: String
    /// Where in the suite.
    public let line: Int

    /// `line N: message`.
    public var description: String { "conformance check failed at StoreConformance line \(line): \(message)" }
}

/// What a check works with.
struct Context: Sendable {
    let clock: ManualClock
    let store: any CircuitStore

    /// A factory over the store with `settings` and callbacks collected in `events`.
    func factory(
        _ settings: BreakerSettings = BreakerSettings(), batch: Int = 1000,
        configure: (inout BreakerFactory.Configuration) -> Void = { _ in }
    ) throws -> BreakerFactory {
        var configuration = BreakerFactory.Configuration(settings: settings)
        configuration.maximumBatchedSuccesses = batch
        configuration.successFlushInterval = .seconds(3600)
        configuration.actor = "conformance"
        configure(&configuration)
        return try BreakerFactory(store: store, configuration: configuration, logger: Logger(label: "conformance"))
    }
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
    guard condition else { throw ConformanceFailure(message: message(), line: line) }
}

func expectEqual<T: Equatable>(_ actual: T, _ expected: T, _ what: String, line: Int = #line) throws {
    guard actual == expected else {
        throw ConformanceFailure(message: "\(what): expected \(expected), got \(actual)", line: line)
    }
}

/// Runs `body`, which must throw `E`; returns the error.
func expectThrows<E: Error>(
    _ type: E.Type, _ what: String, line: Int = #line, _ body: () async throws -> Void
) async throws -> E {
    do {
        try await body()
    } catch let error as E {
        return error
    } catch {
        throw ConformanceFailure(message: "\(what): expected \(E.self), got \(error)", line: line)
    }
    throw ConformanceFailure(message: "\(what): expected \(E.self), nothing was thrown", line: line)
}

struct Boom: Error {}
