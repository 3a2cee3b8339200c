import CircuitryStoreConformance
import Foundation
import Logging
import MetricsTestKit
import Synchronization
import Testing

@testable import Circuitry

/// Copies a fixture from `Fixtures/` into `folder` and returns its path.
func copyFixture(_ name: String, into folder: TemporaryFolder) throws -> String {
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name)
    let destination = folder.path(name)
    try FileManager.default.copyItem(atPath: source.path, toPath: destination)
    return destination
}

/// Asserts that opening `path` fails with `code` and leaves the file's bytes as they were.
func expectRefused(_ path: String, _ code: CircuitStoreError.Code, sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    let before = FileManager.default.contents(atPath: path)
    let error = #expect(throws: CircuitStoreError.self, sourceLocation: sourceLocation) {
        _ = try SQLiteCircuitStore(path: path)
    }
    #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
    #expect(error?.location == path, sourceLocation: sourceLocation)
    #expect(FileManager.default.contents(atPath: path) == before, "the file changed", sourceLocation: sourceLocation)
}

@Suite struct SQLiteStoreTests {
    @Test func createsAWALDatabaseThatOperatorsCanRead() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("breakers.sqlite")
        let store = try SQLiteCircuitStore(path: path)
        let factory = try BreakerFactory(store: store, logger: Logger(label: "test"))
        try await factory.forceOpen("send-email/acme", reason: "test")
        store.close()

        let connection = try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(1)))
        defer { connection.close() }
        #expect(try connection.scalarText("PRAGMA journal_mode") == "wal")
        #expect(try connection.scalarInt("PRAGMA user_version") == SQLiteSchema.version)
        #expect(try connection.scalarInt("PRAGMA application_id") == SQLiteSchema.applicationID)
        #expect(try connection.scalarText("SELECT state FROM circuits WHERE name = 'send-email/acme'") == "open")
        #expect(try connection.scalarText("SELECT override_reason FROM circuit_status") == "test")
        let to = try connection.scalarText("SELECT to_state FROM transition_log")
        #expect(to == "open")
    }

    @Test func readsTheSampleFixture() async throws {
        let folder = try TemporaryFolder()
        let path = try copyFixture("sample-v1.sqlite", into: folder)
        let clock = ManualClock(start: Timestamp(millisecondsSince1970: 1_795_000_001_000))
        let store = try SQLiteCircuitStore(path: path, clock: clock)
        let factory = try BreakerFactory(store: store, logger: Logger(label: "test"))
        let snapshots = try await factory.snapshots()
        #expect(snapshots.map(\.record.name) == ["billing/initech", "send-email/acme", "send-email/globex"])
        #expect(snapshots.map(\.state) == [.open, .closed, .open])
        #expect(snapshots[1].record.counts.successes == 118)
        let rejection = await #expect(throws: CircuitRejected.self) {
            try await factory.breaker(for: "billing/initech").execute {}
        }
        #expect(rejection?.reason == .forcedOpen("maintenance"))
        let history = try await factory.history(of: "send-email/globex")
        #expect(history.map(\.transition.reason) == ["5 consecutive failures", "open period ended", "probe failed"])
    }

    /// A version 1 file (before `circuits.reporters`) is migrated when it is opened: every row kept, the new column
    /// empty, written like any other, and the file's version moved on (an older build then refuses it).
    @Test func migratesAVersion1DatabaseAndKeepsItsData() async throws {
        let folder = try TemporaryFolder()
        let path = try copyFixture("sample-v1.sqlite", into: folder)
        let before = try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(1)))
        #expect(try before.scalarInt("PRAGMA user_version") == 1)
        let rows = try before.scalarInt("SELECT count(*) FROM circuits")
        let transitions = try before.scalarInt("SELECT count(*) FROM transitions")
        before.close()

        let clock = ManualClock(start: Timestamp(millisecondsSince1970: 1_795_000_001_000))
        let store = try SQLiteCircuitStore(path: path, clock: clock)
        var settings = BreakerSettings(failureThreshold: 1000)
        settings.minimumReporters = 2
        var configuration = BreakerFactory.Configuration(settings: settings)
        configuration.reporter = "worker-a"
        let factory = try BreakerFactory(store: store, configuration: configuration, logger: Logger(label: "test"))
        #expect(try await factory.snapshot(of: "send-email/acme")?.record.reporters == [])
        await #expect(throws: MigrationTestFailure.self) {
            try await factory.breaker(for: "send-email/acme").execute { throw MigrationTestFailure() }
        }
        let reporters = try await factory.snapshot(of: "send-email/acme")?.record.reporters
        #expect(reporters == [FailureReporter(id: FailureReporter.id(of: "worker-a"), failures: 1)])
        store.close()

        let after = try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(1)))
        defer { after.close() }
        #expect(try after.scalarInt("PRAGMA user_version") == SQLiteSchema.version)
        #expect(try after.scalarInt("SELECT count(*) FROM circuits") == rows)
        #expect(try after.scalarInt("SELECT count(*) FROM transitions") == transitions)
        #expect(try after.scalarInt("SELECT count(*) FROM circuits WHERE reporters = ''") == rows - 1)
    }

    @Test func refusesFilesItDoesNotOwnAndLeavesThemUntouched() throws {
        let folder = try TemporaryFolder()
        try expectRefused(try copyFixture("not-a-database.sqlite", into: folder), .notADatabase)
        try expectRefused(try copyFixture("truncated.sqlite", into: folder), .corrupt)
        try expectRefused(try copyFixture("future-schema.sqlite", into: folder), .newerSchema)
        try expectRefused(try copyFixture("foreign.sqlite", into: folder), .foreignDatabase)
    }

    @Test func refusesPathsItCannotUse() throws {
        let folder = try TemporaryFolder()
        try expectRefused(folder.url.path, .isDirectory)
        let missing = folder.path("no-such-folder/breakers.sqlite")
        try expectRefused(missing, .cannotOpen)
        #expect(!FileManager.default.fileExists(atPath: folder.path("no-such-folder")), "a folder was created")
        for path in ["", ":memory:", "file:breakers.sqlite?mode=memory"] {
            let error = #expect(throws: CircuitStoreError.self) { _ = try SQLiteCircuitStore(path: path) }
            #expect(error?.code == .cannotOpen)
        }
    }

    @Test func rejectsInvalidConfiguration() throws {
        let folder = try TemporaryFolder()
        for configuration in [
            SQLiteCircuitStore.Configuration(busyTimeout: .milliseconds(-1)),
            SQLiteCircuitStore.Configuration(historyLimit: 0),
            SQLiteCircuitStore.Configuration(journalSizeLimit: -1),
        ] {
            #expect(throws: ConfigurationError.self) {
                _ = try SQLiteCircuitStore(path: folder.path("b.sqlite"), configuration: configuration)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path("b.sqlite")))
    }

    @Test func twoConnectionsOnOneFileSeeEachOthersWrites() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("shared.sqlite")
        let clock = ManualClock()
        let first = try BreakerFactory(
            store: try SQLiteCircuitStore(path: path, clock: clock),
            configuration: .init(settings: BreakerSettings(failureThreshold: 2)), logger: Logger(label: "a"))
        let second = try BreakerFactory(
            store: try SQLiteCircuitStore(path: path, clock: clock),
            configuration: .init(settings: BreakerSettings(failureThreshold: 2)), logger: Logger(label: "b"))
        struct Boom: Error {}
        _ = try? await first.breaker(for: "x").execute { throw Boom() }
        _ = try? await second.breaker(for: "x").execute { throw Boom() }
        #expect(try await first.breaker(for: "x").state() == .open)
        await #expect(throws: CircuitRejected.self) { try await second.breaker(for: "x").execute {} }
    }

    @Test func aClosedStoreSaysSo() async throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteCircuitStore(path: folder.path("b.sqlite"))
        store.close()
        store.close()
        let error = await #expect(throws: CircuitStoreError.self) { _ = try await store.read("x") }
        #expect(error?.code == .closed)
    }
}

/// A lock held by another connection past the busy bound.
@Suite struct SQLiteBusyTests {
    /// Holds the write lock of `path` on a connection of its own until released.
    ///
    /// `@unchecked Sendable`: a test uses it from one thread at a time (taken on one, released on another).
    final class LockHolder: @unchecked Sendable {
        let connection: SQLiteConnection
        init(_ path: String) throws {
            connection = try SQLiteConnection(path: path, busy: BusyPolicy(bound: .seconds(1)))
            try connection.execute("BEGIN IMMEDIATE")
        }
        func release() throws {
            try connection.execute("ROLLBACK")
            connection.close()
        }
    }

    struct Setup {
        let folder: TemporaryFolder
        let clock = ManualClock()
        let path: String
        let logs = CapturedLogs()

        init() throws {
            folder = try TemporaryFolder()
            path = folder.path("busy.sqlite")
        }

        func factory(_ policy: StorageFailurePolicy) throws -> BreakerFactory {
            let store = try SQLiteCircuitStore(
                path: path, configuration: .init(busyTimeout: .milliseconds(100)), clock: clock)
            var configuration = BreakerFactory.Configuration(
                settings: BreakerSettings(failureThreshold: 1, openDuration: .seconds(10)))
            configuration.storageFailurePolicy = policy
            return try BreakerFactory(store: store, configuration: configuration, logger: logs.logger)
        }
    }

    struct Boom: Error {}

    @Test func failClosedThrowsTheBusyErrorAndDoesNotRunTheWork() async throws {
        try await onItsOwnThread {
            let setup = try Setup()
            let factory = try setup.factory(.failClosed)
            let breaker = try factory.breaker(for: "x")
            _ = try? await breaker.execute { throw Boom() }
            setup.clock.advance(by: .seconds(10))  // half-open: admission needs the write lock
            let lock = try LockHolder(setup.path)
            let started = ContinuousClock.now
            let ran = Mutex(false)
            let error = await #expect(throws: CircuitStoreError.self) {
                try await breaker.execute { ran.withLock { $0 = true } }
            }
            let waited = ContinuousClock.now - started
            try lock.release()
            #expect(error?.code == .busy)
            #expect(error?.sqliteCode == 5)
            #expect(error?.sql == "BEGIN IMMEDIATE")
            #expect(!ran.withLock { $0 })
            #expect(waited >= .milliseconds(100), "gave up before the busy bound: \(waited)")
            #expect(waited < .seconds(2), "waited far past the busy bound: \(waited)")
            #expect(try await breaker.state() == .halfOpen, "nothing was written")
        }
    }

    @Test func failOpenRunsTheWorkUnrecorded() async throws {
        let setup = try Setup()
        let factory = try setup.factory(.failOpen)
        let breaker = try factory.breaker(for: "x")
        _ = try? await breaker.execute { throw Boom() }
        setup.clock.advance(by: .seconds(10))
        let lock = try LockHolder(setup.path)
        let permit = try await breaker.acquire()
        #expect(!permit.isRecorded)
        #expect(try await breaker.execute { 7 } == 7)
        try lock.release()
        #expect(try await breaker.state() == .halfOpen)
        #expect(setup.logs.messages.contains { $0.contains("fail-open") })
    }

    @Test func aFailureToRecordNeverHidesTheWorksOwnResult() async throws {
        let setup = try Setup()
        let factory = try setup.factory(.failClosed)
        let breaker = try factory.breaker(for: "x")
        try await breaker.execute {}  // the first admission stores the circuit
        let lock = try LockHolder(setup.path)
        // Closed: admission is a plain read, which a writer does not block in WAL mode; recording the failure is
        // a write, which times out.
        await #expect(throws: Boom.self) { try await breaker.execute { throw Boom() } }
        try lock.release()
        #expect(setup.logs.messages.contains { $0.contains("could not record") })
        #expect(try await breaker.state() == .closed)
    }
}

/// A log handler that keeps messages in memory, for asserting what the library logged.
final class CapturedLogs: Sendable {
    private let storage = Mutex<[String]>([])
    var messages: [String] { storage.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(logs: self) }
    }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            logs.storage.withLock { $0.append("\(event.level): \(event.message) \(event.metadata ?? [:])") }
        }
    }
}

@Suite struct SQLiteBusyMetricsTests {
    @Test func waitsForAnotherConnectionsLockAreTimed() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("waits.sqlite")
        let metrics = TestMetrics()
        let store = try SQLiteCircuitStore(path: path, configuration: .init(metricsFactory: metrics))
        let holder = try SQLiteBusyTests.LockHolder(path)
        // The other connection lets go after 50 ms of real time, on a thread of its own: the test's cooperative
        // threads may all be busy.
        let released = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            usleep(50_000)
            try? holder.release()
            released.signal()
        }
        let written = try await store.update("x") { record, now in
            record = CircuitRecord(name: "x", createdAt: now)
            return StoreUpdate(value: true, write: true)
        }
        released.wait()
        #expect(written)
        let waits = try metrics.expectTimer("circuitry_sqlite_busy_wait")
        #expect(waits.values.count == 1)
        #expect((waits.values.first ?? 0) > 0)
        #expect(store.busyWaits.count > 0)
    }
}

private struct MigrationTestFailure: Error {}
