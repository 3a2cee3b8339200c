import Circuitry
import CircuitryStores
import Foundation
import Logging
import Testing

/// `StoreLocation`: the one place that turns a `--db` value into a store.
@Suite struct StoreLocationTests {
    private let logger = Logger(label: "circuitry.tests", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test(arguments: ["breakers.sqlite", "/var/lib/jobs/breakers.sqlite", "./a://b", "1abc://x", "dir/with space"])
    func filePathsAreSQLite(text: String) throws {
        let location = try StoreLocation(text)
        guard case .sqlite(let path) = location.kind else {
            Issue.record("\(text) was read as \(location.kind)")
            return
        }
        #expect(path == text)
        #expect(location.description == text)
    }

    @Test func emptyIsRefused() {
        #expect(throws: StoreLocationError.self) { try StoreLocation("") }
    }

    @Test(arguments: ["mysql://u:hunter2@db/x", "HTTP://u:hunter2@host/", "s3://bucket/key"])
    func unknownSchemesAreRefusedWithoutTheirPassword(text: String) {
        let error = #expect(throws: StoreLocationError.self) { try StoreLocation(text) }
        #expect(error?.message.contains("is not a store Circuitry knows") == true, "\(String(describing: error))")
        #expect(error?.message.contains("hunter2") == false)
    }

    #if Postgres
    @Test(arguments: [
        "postgres://alice:hunter2@db.internal:6543/jobs", "POSTGRESQL://alice:hunter2@db.internal:6543/jobs",
    ])
    func postgresURLs(text: String) throws {
        let location = try StoreLocation(text)
        guard case .postgres(let configuration) = location.kind else {
            Issue.record("\(text) was read as \(location.kind)")
            return
        }
        #expect(configuration.host == "db.internal" && configuration.port == 6543 && configuration.database == "jobs")
        #expect(!location.description.contains("hunter2"), "\(location)")
    }

    @Test func malformedPostgresURLsAreRefusedWithoutTheirPassword() {
        let error = #expect(throws: StoreLocationError.self) { try StoreLocation("postgres://alice:hunter2@/jobs") }
        #expect(error?.message.contains("hunter2") == false, "\(String(describing: error))")
    }
    #else
    @Test func postgresURLsNameTheTraitThatBringsThem() {
        let error = #expect(throws: StoreLocationError.self) { try StoreLocation("postgres://alice:hunter2@db/jobs") }
        #expect(error?.message.contains("package trait Postgres") == true, "\(String(describing: error))")
        #expect(error?.message.contains("hunter2") == false)
    }
    #endif

    #if Redis
    @Test(arguments: ["redis://alice:hunter2@cache.internal:6380/3", "REDISS://alice:hunter2@cache.internal:6380/3"])
    func redisURLs(text: String) throws {
        let location = try StoreLocation(text)
        guard case .redis(let configuration) = location.kind else {
            Issue.record("\(text) was read as \(location.kind)")
            return
        }
        #expect(configuration.host == "cache.internal" && configuration.port == 6380 && configuration.database == 3)
        #expect(configuration.tls == text.hasPrefix("REDISS"))
        #expect(!location.description.contains("hunter2"), "\(location)")
    }

    @Test func malformedRedisURLsAreRefusedWithoutTheirPassword() {
        let error = #expect(throws: StoreLocationError.self) { try StoreLocation("redis://alice:hunter2@h/zero") }
        #expect(error?.message.contains("hunter2") == false, "\(String(describing: error))")
    }
    #else
    @Test func redisURLsNameTheTraitThatBringsThem() {
        let error = #expect(throws: StoreLocationError.self) { try StoreLocation("redis://alice:hunter2@cache/0") }
        #expect(error?.message.contains("package trait Redis") == true, "\(String(describing: error))")
        #expect(error?.message.contains("hunter2") == false)
    }
    #endif

    @Test func opensASQLiteFileAndClosesItAfterwards() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("breakers.sqlite")
        let written = try await StoreLocation(path).withStore(logger: logger) { store in
            try await store.update("x") { record, now in
                record = CircuitRecord(name: "x", createdAt: now)
                return StoreUpdate(value: true, write: true)
            }
        }
        #expect(written)
        let names = try await StoreLocation(path).withStore(logger: logger) { try await $0.list().records.map(\.name) }
        #expect(names == ["x"])
    }

    @Test func aFileThatMustExistIsNotCreated() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("typo.sqlite")
        let options = StoreLocation.Options(mustExist: true)
        let error = await #expect(throws: CircuitStoreError.self) {
            try await StoreLocation(path).withStore(options, logger: logger) { _ in }
        }
        #expect(error?.code == .missing)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
