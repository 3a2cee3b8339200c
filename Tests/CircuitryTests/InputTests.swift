import Foundation
import Logging
import Testing

@testable import Circuitry

/// No input traps: stored rows, times, durations and settings at and beyond the ends of their ranges.
@Suite struct TimeArithmeticTests {
    let max = Timestamp(millisecondsSince1970: .max)
    let min = Timestamp(millisecondsSince1970: .min)

    @Test func timestampArithmeticSaturatesAtBothEnds() {
        #expect(max + .seconds(1) == max)
        #expect(min - .seconds(1) == min)
        #expect(min + .seconds(-1) == min, "adding a negative duration saturates downwards")
        #expect(max - .seconds(-1) == max, "subtracting a negative duration saturates upwards")
        #expect(max - min == .milliseconds(Int64.max))
        #expect(min - max == .milliseconds(Int64.min))
        #expect(Timestamp(millisecondsSince1970: 0) + .seconds(Int64.max) == max)
        #expect(
            Timestamp(millisecondsSince1970: 0) + .seconds(1e12)
                == Timestamp(millisecondsSince1970: 1_000_000_000_000_000))
    }

    @Test func durationsInMillisecondsSaturate() {
        #expect(Duration.seconds(Int64.max).milliseconds == .max)
        #expect(Duration.seconds(Int64.min).milliseconds == .min)
        #expect((Duration.milliseconds(Int64.max) + .milliseconds(1)).milliseconds == .max)
        #expect(Duration.milliseconds(-1500).milliseconds == -1500)
    }

    @Test func datesOutsideTheRangeSaturate() {
        #expect(Timestamp(Date(timeIntervalSince1970: 1e300)) == max)
        #expect(Timestamp(Date(timeIntervalSince1970: -1e300)) == min)
        #expect(Timestamp(Date(timeIntervalSince1970: .nan)) == Timestamp(millisecondsSince1970: 0))
        #expect(Timestamp(Date(timeIntervalSince1970: 1.5)) == Timestamp(millisecondsSince1970: 1500))
    }

    @Test func extremeTimestampsPrint() {
        #expect(!max.description.isEmpty)
        #expect(!min.description.isEmpty)
    }

    @Test func aManualClockSaturates() {
        let clock = ManualClock(start: max)
        clock.advance(by: .seconds(1))
        #expect(clock.now() == max)
    }
}

@Suite struct SettingsRangeTests {
    /// Durations at the top of their range: the open period, its backoff with jitter, the lease, the reset interval.
    @Test func settingsAtTheTopOfTheirRangeSaturate() async throws {
        let longest = Duration.seconds(Int64.max)
        var settings = BreakerSettings(
            failureThreshold: 1, openDuration: longest, probeTimeout: longest, resetInterval: longest,
            openDurationPolicy: .exponential(factor: 100, maximum: longest, jitter: 0.99))
        settings.rateWindow = RateWindowPolicy(
            samplingDuration: longest, minimumThroughput: .max, failureRateThreshold: 1, buckets: 1)
        let clock = ManualClock(start: Timestamp(millisecondsSince1970: .max - 1000))
        var configuration = BreakerFactory.Configuration(settings: settings)
        configuration.maximumBatchedSuccesses = .max
        configuration.successFlushInterval = longest
        let factory = try BreakerFactory(
            store: InMemoryCircuitStore(clock: clock), configuration: configuration, logger: Logger(label: "test"))
        let breaker = try factory.breaker(for: "long")
        struct Boom: Error {}
        for _ in 0..<3 {
            do { try await breaker.execute { throw Boom() } } catch is Boom {} catch is CircuitRejected {}
            // Relative: at the top of time `now + longest` saturates to `now`, an end that `until:` refuses.
            try await factory.forceOpen("long", for: longest)
            try await factory.reset("long")
            clock.advance(by: longest)
        }
        for policy in [OpenDurationPolicy.exponential(factor: 100, maximum: longest, jitter: 0.99), .fixed] {
            for attempt in [Int64.min, 0, 1, 64, .max] {
                _ = policy.duration(attempt: attempt, base: longest, seed: .max)
            }
        }
    }

    @Test(arguments: [
        SQLiteCircuitStore.Configuration(busyTimeout: .seconds(1e12)),
        SQLiteCircuitStore.Configuration(busyTimeout: .seconds(3601)),
        SQLiteCircuitStore.Configuration(busyTimeout: .seconds(Int64.max)),
        SQLiteCircuitStore.Configuration(journalSizeLimit: .max),
    ])
    func sqliteSettingsOutOfRangeAreRefused(_ configuration: SQLiteCircuitStore.Configuration) throws {
        let folder = try TemporaryFolder()
        #expect(throws: ConfigurationError.self) {
            _ = try SQLiteCircuitStore(path: folder.path("b.sqlite"), configuration: configuration)
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path("b.sqlite")))
    }

    @Test func theLongestBusyTimeoutIsAccepted() throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteCircuitStore(
            path: folder.path("b.sqlite"), configuration: .init(busyTimeout: .seconds(3600)))
        store.close()
    }
}

/// A row changed behind the store's back (with `sqlite3`): every column that cannot be read is the typed `corrupt`
/// error, never a trap and never a silent 0.
@Suite struct CorruptRowTests {
    struct Setup {
        let folder: TemporaryFolder
        let path: String
        let store: SQLiteCircuitStore
        let factory: BreakerFactory

        init() async throws {
            folder = try TemporaryFolder()
            path = folder.path("rows.sqlite")
            store = try SQLiteCircuitStore(path: path, clock: ManualClock())
            factory = try BreakerFactory(
                store: store, configuration: .init(settings: BreakerSettings(failureThreshold: 3)),
                logger: Logger(label: "test"))
            struct Boom: Error {}
            _ = try? await factory.breaker(for: "row").execute { throw Boom() }
        }

        /// Runs `sql` on a connection of its own, as an operator's `sqlite3` would.
        func tamper(_ sql: String) throws {
            let connection = try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(1)))
            defer { connection.close() }
            // The CHECK constraints guard `state` and `override`; an operator can switch them off.
            try connection.execute("PRAGMA ignore_check_constraints = 1")
            try connection.execute(sql)
        }
    }

    static let integerColumns = [
        "generation", "requests", "successes", "failures", "consecutive_successes", "consecutive_failures",
        "expires_at", "override_until", "open_attempts", "updated_at",
    ]

    @Test(arguments: integerColumns, ["'abc'", "1.5", "x'00ff'", "'9223372036854775808'"])
    func aValueOfTheWrongTypeIsCorrupt(_ column: String, _ value: String) async throws {
        let setup = try await Setup()
        try setup.tamper("UPDATE circuits SET \(column) = \(value) WHERE name = 'row'")
        try await expectCorrupt(setup, mentioning: column)
    }

    @Test(arguments: [
        "generation", "requests", "successes", "failures", "consecutive_successes",
        "consecutive_failures", "open_attempts",
    ])
    func aNegativeCountIsCorrupt(_ column: String) async throws {
        let setup = try await Setup()
        try setup.tamper("UPDATE circuits SET \(column) = -1 WHERE name = 'row'")
        try await expectCorrupt(setup, mentioning: column)
    }

    @Test(arguments: [
        ("state", "'ajar'"), ("override", "'forced-sideways'"), ("probes", "'1@2@3'"), ("probes", "'1@'"),
        ("probes", "'x@1'"), ("probes", "'1@2,'"), ("window", "'1:2:3'"), ("window", "'1:-2:0:0'"),
        ("window", "'1:2:3:99999999999999999999'"), ("name", "''"),
    ])
    func anUnreadableTextIsCorrupt(_ column: String, _ value: String) async throws {
        let setup = try await Setup()
        try setup.tamper("UPDATE circuits SET \(column) = \(value) WHERE name = 'row'")
        let name = column == "name" ? "" : "row"
        let error = await #expect(throws: CircuitStoreError.self) { _ = try await setup.store.list() }
        #expect(error?.code == .corrupt, "\(String(describing: error))")
        if !name.isEmpty {
            let read = await #expect(throws: CircuitStoreError.self) { _ = try await setup.store.read(name) }
            #expect(read?.code == .corrupt)
        }
    }

    @Test func aCorruptTransitionIsCorrupt() async throws {
        let setup = try await Setup()
        try await setup.factory.forceOpen("row")
        try setup.tamper("UPDATE transitions SET generation = 'abc'")
        let error = await #expect(throws: CircuitStoreError.self) { _ = try await setup.factory.history(of: "row") }
        #expect(error?.code == .corrupt)
    }

    func expectCorrupt(_ setup: Setup, mentioning column: String) async throws {
        let read = await #expect(throws: CircuitStoreError.self) { _ = try await setup.store.read("row") }
        #expect(read?.code == .corrupt, "\(String(describing: read))")
        #expect(read?.message.contains(column) == true, "\(String(describing: read?.message))")
        let listed = await #expect(throws: CircuitStoreError.self) { _ = try await setup.store.list() }
        #expect(listed?.code == .corrupt)
        // A breaker fails closed with the same error; the work does not run.
        let ran = Box()
        let call = await #expect(throws: CircuitStoreError.self) {
            try await setup.factory.breaker(for: "row").execute { ran.value = true }
        }
        #expect(call?.code == .corrupt)
        #expect(!ran.value)
    }

    /// The row of the issue: `failures` set to 2^63 − 1 with `sqlite3`, then calls that succeed and fail.
    @Test func countsAtTheTopOfTheRangeSaturate() async throws {
        let setup = try await Setup()
        try setup.tamper(
            """
            UPDATE circuits SET failures = 9223372036854775807, requests = 9223372036854775807,
                successes = 9223372036854775807, consecutive_successes = 9223372036854775807,
                generation = 9223372036854775807, open_attempts = 9223372036854775807 WHERE name = 'row'
            """)
        let breaker = try setup.factory.breaker(for: "row")
        struct Boom: Error {}
        try await breaker.execute {}
        for _ in 0..<3 {
            do { try await breaker.execute { throw Boom() } } catch is Boom {} catch is CircuitRejected {}
        }
        let record = try await breaker.snapshot().record
        #expect(record.state == .open)
        #expect(record.generation == .max)
    }
}

/// A flag set inside a `@Sendable` closure.
final class Box: @unchecked Sendable {
    // @unchecked: set by the work closure and read after it returned, on one task.
    var value = false
}

@Suite struct CircuitNameTests {
    @Test func namesAreStoredInNFC() throws {
        let decomposed = "cafe\u{301}"
        #expect(Array(try CircuitName.normalized(decomposed).utf8) == Array("caf\u{E9}".utf8))
        #expect(CircuitName.nfc("send-email/acme") == "send-email/acme")
        #expect(Array(CircuitName.nfc("\u{212B}").utf8) == Array("\u{C5}".utf8), "the Ångström sign is Å")
    }

    @Test(arguments: ["a\u{202E}b", "a\u{2066}b", "a\u{200B}b", "a\u{FEFF}b", "a\u{2028}b", "a\u{2029}b", "a\u{7}b"])
    func formatCharactersAndSeparatorsAreRefused(_ name: String) {
        let error = #expect(throws: ConfigurationError.self) { try CircuitName.validate(name) }
        #expect(error?.setting == "name")
        #expect(error?.message.contains("\\u{") == true, "\(String(describing: error?.message))")
    }

    @Test(arguments: ["send-email/acme", "send-email/tenant-ü 🚀", "日本語", "café"])
    func ordinaryNamesAreAccepted(_ name: String) throws {
        try CircuitName.validate(name)
    }
}

@Suite struct BatchAgeTests {
    @Test func aBatchIsWrittenWhenItsOldestSuccessIsOldByTheMonotonicClock() {
        let clock = ManualMonotonicClock()
        let identity = Self.identity("c")
        let batcher = SuccessBatcher(maximumCount: 1000, maximumAge: .seconds(1), monotonicNow: { clock.read() })
        #expect(!batcher.add(identity, generation: 1, failures: 0))
        clock.advance(by: .milliseconds(999))
        #expect(!batcher.add(identity, generation: 1, failures: 0))
        clock.advance(by: .milliseconds(1))
        #expect(batcher.add(identity, generation: 1, failures: 0))
    }

    /// What the factory's flushing loop sleeps for and writes: each batch once it is one interval old.
    @Test func aBatchIsDueOneIntervalAfterItsFirstSuccess() {
        let clock = ManualMonotonicClock()
        let batcher = SuccessBatcher(maximumCount: 1000, maximumAge: .seconds(1), monotonicNow: { clock.read() })
        #expect(batcher.untilNextDue == nil)
        #expect(batcher.dueCircuits.isEmpty)
        _ = batcher.add(Self.identity("a"), generation: 1, failures: 0)
        clock.advance(by: .milliseconds(300))
        _ = batcher.add(Self.identity("b"), generation: 1, failures: 0)
        _ = batcher.add(Self.identity("a"), generation: 1, failures: 0)
        #expect(batcher.untilNextDue == .milliseconds(700), "the oldest batch, a's, is due first")
        #expect(batcher.dueCircuits.isEmpty)
        clock.advance(by: .milliseconds(700))
        #expect(batcher.untilNextDue == .zero)
        #expect(batcher.dueCircuits.map(\.name) == ["a"])
        _ = batcher.take("a")
        #expect(batcher.untilNextDue == .milliseconds(300))
        clock.advance(by: .seconds(5))
        #expect(batcher.untilNextDue == .zero, "never negative")
        #expect(batcher.dueCircuits.map(\.name) == ["b"])
    }

    static func identity(_ name: String) -> CircuitIdentity {
        CircuitIdentity(
            name: name, baseName: name, context: [:],
            rules: CircuitRules(CircuitStateMachine(settings: .init(), actor: "test")), metrics: nil)
    }
}
