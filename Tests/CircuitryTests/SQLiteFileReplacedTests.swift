import Foundation
import Testing

@testable import Circuitry

/// The database deleted or replaced under an open store: the store moves to the file at the path, and never writes to
/// the old one again.
@Suite struct SQLiteFileReplacedTests {
    let folder: TemporaryFolder
    let path: String

    init() throws {
        folder = try TemporaryFolder()
        path = folder.path("breakers.sqlite")
    }

    var files: [String] { [path, path + "-wal", path + "-shm"] }

    /// Keeps the old database readable under `old.sqlite` (hard links: the same files), then removes the three names.
    func deleteKeepingOld() throws {
        try FileManager.default.linkItem(atPath: path, toPath: folder.path("old.sqlite"))
        try FileManager.default.linkItem(atPath: path + "-wal", toPath: folder.path("old.sqlite-wal"))
        for file in files { try FileManager.default.removeItem(atPath: file) }
    }

    /// The circuits in the old database, after every store on it was closed.
    func oldNames() async throws -> [String] {
        let old = try SQLiteCircuitStore(path: folder.path("old.sqlite"))
        defer { old.close() }
        return try await old.names()
    }

    @Test func aDeletedDatabaseIsReplacedByANewOneBeforeTheNextWrite() async throws {
        let store = try SQLiteCircuitStore(path: path)
        try await store.addFailure("before")
        try deleteKeepingOld()

        #expect(try await store.addFailure("after") == 1)
        #expect(try await store.names() == ["after"], "the store reads the new file")
        store.close()
        let fresh = try SQLiteCircuitStore(path: path)
        defer { fresh.close() }
        #expect(try await fresh.names() == ["after"], "the write went to the file at the path")
        #expect(try await oldNames() == ["before"], "nothing was written to the deleted file")
    }

    @Test func aReplacedDatabaseIsFollowed() async throws {
        let store = try SQLiteCircuitStore(path: path)
        try await store.addFailure("before")
        // A database prepared elsewhere (closed: one file, its log checkpointed and removed) renamed over the path,
        // after the old log: as documented.
        let other = folder.path("other.sqlite")
        let preparing = try SQLiteCircuitStore(path: other)
        try await preparing.addFailure("restored")
        preparing.close()
        #expect(!FileManager.default.fileExists(atPath: other + "-wal"))
        try FileManager.default.removeItem(atPath: path + "-wal")
        try FileManager.default.removeItem(atPath: path + "-shm")
        #expect(rename(other, path) == 0)

        #expect(try await store.addFailure("restored") == 2)
        #expect(try await store.names() == ["restored"])
        store.close()
        let fresh = try SQLiteCircuitStore(path: path)
        defer { fresh.close() }
        #expect(try await fresh.read("restored").record?.counts.failures == 2)
    }

    @Test func aNewFileBesideTheOldLogIsRefusedUntilTheLogIsGone() async throws {
        let store = try SQLiteCircuitStore(path: path)
        defer { store.close() }
        try await store.addFailure("before")
        // Only the database file is deleted: its -wal and -shm stay, and a new file there would take them for its own.
        try FileManager.default.removeItem(atPath: path)

        let error = await #expect(throws: CircuitStoreError.self) { try await store.addFailure("after") }
        #expect(error?.code == .fileReplaced, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: path), "a database was created beside the old log")
        // Reads say so too, rather than answering from the deleted file.
        await #expect(throws: CircuitStoreError.self) { _ = try await store.read("before") }

        try FileManager.default.removeItem(atPath: path + "-wal")
        try FileManager.default.removeItem(atPath: path + "-shm")
        #expect(try await store.addFailure("after") == 1)
        #expect(try await store.names() == ["after"])
    }

    @Test func readsNoticeADeletedDatabaseWithinASecond() async throws {
        try await onItsOwnThread {
            let store = try SQLiteCircuitStore(path: path)
            defer { store.close() }
            try await store.addFailure("before")
            #expect(try await store.read("before").record != nil)
            for file in files { try FileManager.default.removeItem(atPath: file) }

            // Waits for the condition, not for a fixed time: reads look at the path at most once a second.
            let deleted = ContinuousClock.now
            while try await store.read("before").record != nil {
                try #require(milliseconds(since: deleted) < 3000, "reads still answer from the deleted file")
                try await Task.sleep(for: .milliseconds(20))
            }
            // One check interval (1 s), plus creating the new database at the path, whose fsyncs a busy disk makes
            // slow (1.53 s seen in a fresh clone's CI run while the build's files were being written).
            #expect(milliseconds(since: deleted) < 2500)
            #expect(FileManager.default.fileExists(atPath: path), "the store opened a new database at the path")
        }
    }

    @Test func outOfSpaceIsFullWhicheverFileRanOut() {
        let ioErrorWrite: Int32 = 10 | (3 << 8)
        let ioErrorSharedMemorySize: Int32 = 10 | (19 << 8)
        let ioErrorFsync: Int32 = 10 | (4 << 8)
        #expect(SQLiteConnection.kind(of: 13, systemErrno: 0) == .full)
        #expect(SQLiteConnection.kind(of: ioErrorSharedMemorySize, systemErrno: 0) == .full)
        #expect(SQLiteConnection.kind(of: ioErrorWrite, systemErrno: ENOSPC) == .full)
        #expect(SQLiteConnection.kind(of: ioErrorFsync, systemErrno: EDQUOT) == .full)
        #expect(SQLiteConnection.kind(of: ioErrorWrite, systemErrno: EIO) == .other)
        #expect(SQLiteConnection.kind(of: 5, systemErrno: 0) == .busy)
        #expect(SQLiteConnection.kind(of: 8 | (4 << 8), systemErrno: 0) == .fileReplaced)
        let error = SQLiteConnection.error(
            code: ioErrorSharedMemorySize, message: "disk I/O error", sql: nil, path: "/x", systemErrno: ENOSPC)
        #expect(error.code == .full)
        #expect(error.sqliteCode == ioErrorSharedMemorySize)
    }
}
