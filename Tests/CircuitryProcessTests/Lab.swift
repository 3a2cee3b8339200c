import CircuitryDynamoDBTestSupport
import CircuitryPostgresTestSupport
import CircuitryRedisTestSupport
import CircuitryStores
import CircuitryWorkerReport
import Foundation
import Logging
import Synchronization
import Testing

@testable import Circuitry

/// Where a lab's workers keep their breakers: a SQLite file in the lab's folder, a fresh schema on the test
/// PostgreSQL server or a fresh key prefix on the test Redis server, which the workers reach over TCP, or a fresh table
/// on the test moto server (DynamoDB's API over HTTP).
enum StoreKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite = "SQLite"
    #if Postgres
    case postgres = "PostgreSQL"
    #endif
    #if Redis
    case redis = "Redis"
    #endif
    #if DynamoDB
    case dynamodb = "DynamoDB"
    #endif

    var description: String { rawValue }
}

/// A store, and whether its workers admit calls from a local view of closed circuits
/// (`BreakerFactory.Configuration.maximumStaleness`). With a view, each bound on when a call may be admitted widens by
/// exactly the staleness bound, and every other check stays as it is.
struct Setup: Sendable, CustomStringConvertible {
    let store: StoreKind
    /// The workers' `maximumStaleness` in milliseconds; `nil`: every admission asks the store.
    let staleness: Int?

    /// The staleness bound of 50 ms: shorter than every open period of the cross-process tests (150 ms and more), so
    /// that the widened bounds still check something.
    static let view = 50

    var workerArguments: [String] { staleness.map { ["--maximum-staleness-ms", "\($0)"] } ?? [] }
    var stalenessMilliseconds: Int64 { Int64(staleness ?? 0) }
    var description: String { staleness.map { "\(store), view ≤ \($0) ms old" } ?? "\(store)" }
}

/// Workers waiting at a start barrier.
struct WorkerGroup: Sendable {
    let workers: [WorkerProcess]
    let startFile: String

    /// Releases every worker at once.
    func release() throws {
        guard FileManager.default.createFile(atPath: startFile, contents: Data()) else {
            throw LabError("cannot create the start file \(startFile)")
        }
    }
}

/// One test's temporary folder, database and worker processes. `tearDown()` kills what still runs and removes
/// the folder.
///
/// The database is a SQLite file in the folder, or (``StoreKind/postgres``) a schema of its own on the shared test
/// server; workers name it with ``dbArgument`` either way.
final class Lab: Sendable {
    let kind: StoreKind
    let folder: URL
    /// The SQLite file of a SQLite lab (for SQLite-only checks); unused by a PostgreSQL lab.
    let database: String
    /// What `--db` names: the SQLite file, or the server's URL with this lab's schema.
    let dbArgument: String
    let server: TestPostgresServer?
    /// The Redis server of a Redis lab.
    let redisServer: TestRedisServer?
    /// The moto server's endpoint, in a DynamoDB lab.
    let moto: String?
    let binary: URL
    private let workers = Mutex<[WorkerProcess]>([])
    private let rounds = Mutex(0)

    /// A lab on a SQLite file.
    convenience init() throws {
        try self.init(kind: .sqlite, server: nil, redisServer: nil, moto: nil)
    }

    /// A lab on `kind`: on PostgreSQL, in a fresh schema of the shared test server (started on first use).
    static func open(_ kind: StoreKind) async throws -> Lab {
        switch kind {
        case .sqlite: try Lab()
        #if Postgres
        case .postgres:
            try Lab(kind: .postgres, server: try await TestPostgresServer.shared(), redisServer: nil, moto: nil)
        #endif
        #if Redis
        case .redis: try Lab(kind: .redis, server: nil, redisServer: try await TestRedisServer.shared(), moto: nil)
        #endif
        #if DynamoDB
        case .dynamodb:
            try Lab(
                kind: .dynamodb, server: nil, redisServer: nil,
                moto: try await TestMotoServer.sharedForProcesses().endpoint)
        #endif
        }
    }

    #if Redis
    /// A Redis lab on a server of the caller's (for tests whose load would slow every other test of a shared one).
    static func open(redis server: TestRedisServer) throws -> Lab {
        try Lab(kind: .redis, server: nil, redisServer: server, moto: nil)
    }
    #endif

    private init(kind: StoreKind, server: TestPostgresServer?, redisServer: TestRedisServer?, moto: String?) throws {
        self.kind = kind
        self.server = server
        self.redisServer = redisServer
        self.moto = moto
        binary = try Self.workerBinary()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("circuitry-procs-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        database = folder.appendingPathComponent("breakers.sqlite").path
        dbArgument =
            moto.map(Self.dynamoURL) ?? server.map { Self.url(on: $0, schema: Self.freshSchema()) }
            ?? redisServer.map { $0.url(parameters: "prefix=\(Self.freshSchema())") } ?? database
    }

    /// A database nobody opened yet, as `--db` names it: `<folder>/<name>.sqlite`, or a fresh schema (or key prefix)
    /// on the server, or a fresh table on moto.
    func newDatabase(_ name: String) -> String {
        if let moto { return Self.dynamoURL(moto) }
        if let redisServer { return redisServer.url(parameters: "prefix=\(Self.freshSchema())") }
        guard let server else { return folder.appendingPathComponent("\(name).sqlite").path }
        return Self.url(on: server, schema: Self.freshSchema())
    }

    /// The schema of a `--db` URL.
    static func schema(of url: String) -> String? {
        URLComponents(string: url)?.queryItems?.first { $0.name == "schema" }?.value
    }

    /// The key prefix of a Redis `--db` URL.
    static func prefix(of url: String) -> String? {
        guard url.hasPrefix("redis://") else { return nil }
        return URLComponents(string: url)?.queryItems?.first { $0.name == "prefix" }?.value
    }

    private static func url(on server: TestPostgresServer, schema: String) -> String {
        server.url(parameters: "schema=\(schema)")
    }

    /// A fresh table on moto, created by the first process that opens it. Every worker runs on this host, with one
    /// clock: no skew to allow for in probe leases. Moto is slow under 8 contending processes on 2 loaded cores, so
    /// the bound on an operation is raised: the tests measure the guarantees, not the emulator.
    private static func dynamoURL(_ endpoint: String) -> String {
        "dynamodb://p-\(UUID().uuidString.lowercased().prefix(18))?region=us-east-1&endpoint=\(endpoint)"
            + "&create_table=true&clock_skew_ms=0&operation_timeout_ms=10000"
    }

    /// A schema name no other test uses.
    private static func freshSchema() -> String {
        "p_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    }

    func tearDown() {
        let all = workers.withLock { $0 }
        for worker in all where worker.isRunning {
            worker.kill()
            worker.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// Starts one worker process without a barrier; it is named `name` in the history (`--name`).
    func start(_ name: String, _ arguments: [String]) throws -> WorkerProcess {
        let worker = try WorkerProcess(
            binary: binary, arguments: arguments + ["--name", name], name: name, folder: folder)
        workers.withLock { $0.append(worker) }
        return worker
    }

    /// Starts `count` workers that wait at a barrier, waits until all are ready, and releases them at once.
    ///
    /// `arguments(i)` gives worker i's arguments; the barrier options are added here.
    func startTogether(_ count: Int, _ prefix: String, _ arguments: (Int) -> [String]) async throws
        -> [WorkerProcess]
    {
        let group = try await readyTogether(count, prefix, arguments)
        try group.release()
        return group.workers
    }

    /// Starts `count` workers and waits until all are ready at the barrier; `release()` starts them.
    func readyTogether(_ count: Int, _ prefix: String, _ arguments: (Int) -> [String]) async throws
        -> WorkerGroup
    {
        let round = rounds.withLock { value -> Int in
            value += 1
            return value
        }
        let go = folder.appendingPathComponent("go-\(round)").path
        var started: [WorkerProcess] = []
        var readyFiles: [String] = []
        for index in 0..<count {
            let name = "\(prefix)-\(index)"
            let ready = folder.appendingPathComponent("ready-\(round)-\(index)").path
            readyFiles.append(ready)
            started.append(try start(name, arguments(index) + ["--ready-file", ready, "--start-file", go]))
        }
        // Bounded wait for every process to reach the barrier (process start-up on 2 busy cores can be slow).
        let deadline = ContinuousClock.now + .seconds(30)
        while !readyFiles.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
            if let dead = started.first(where: { !$0.isRunning }) {
                throw LabError("a worker ended before the barrier: \(dead)")
            }
            guard ContinuousClock.now < deadline else { throw LabError("workers not ready within 30 s") }
            try await Task.sleep(for: .milliseconds(2))
        }
        return WorkerGroup(workers: started, startFile: go)
    }

    /// Waits for every worker (each at most `timeout`), expects each to succeed, and decodes their reports.
    func reports(_ workers: [WorkerProcess], timeout: Duration = .seconds(30)) async throws -> [WorkerReport] {
        var reports: [WorkerReport] = []
        for worker in workers {
            let exit = await worker.wait(timeout: timeout)
            try #require(exit.succeeded, "\(worker)")
            let line = worker.output.split(separator: "\n").last.map(String.init) ?? ""
            reports.append(try JSONDecoder().decode(WorkerReport.self, from: Data(line.utf8)))
        }
        return reports
    }

    // MARK: Reading the database

    /// Opens the shared database (or `db`, as `--db` names it) the way a process of the application would, and
    /// hands the store to `body`; a PostgreSQL store's pool stops when `body` returns.
    func withStore<T: Sendable>(_ db: String? = nil, _ body: (any CircuitStore) async throws -> T) async throws -> T {
        let location = try StoreLocation(db ?? dbArgument)
        return try await location.withStore(StoreLocation.Options(maximumConnections: 1), logger: Self.quiet) {
            try await body($0)
        }
    }

    /// The stored record of `circuit`.
    func record(_ circuit: String, in db: String? = nil) async throws -> CircuitRecord {
        let records = try await withStore(db) { try await $0.list().records }
        return try #require(records.first { $0.name == circuit }, "no record of \(circuit)")
    }

    /// The whole history of `circuit`, oldest first.
    func history(_ circuit: String) async throws -> [HistoryEntry] {
        try await withStore { try await $0.history(of: circuit, afterID: 0, limit: 10_000) }
    }

    private static let quiet = Logger(label: "circuitry.process-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs a one-value query on a plain connection (no schema checks), e.g. `PRAGMA integrity_check`.
    func scalar(_ sql: String, path: String? = nil) throws -> String? {
        let connection = try SQLiteConnection(path: path ?? database, busy: BusyPolicy(bound: .seconds(2)))
        defer { connection.close() }
        return try connection.scalarText(sql)
    }

    // MARK: The worker binary

    /// `circuitry-worker` from the build products folder, or `$CIRCUITRY_WORKER`.
    static func workerBinary() throws -> URL {
        if let explicit = ProcessInfo.processInfo.environment["CIRCUITRY_WORKER"] {
            return URL(fileURLWithPath: explicit)
        }
        return try product("circuitry-worker")
    }

    /// The executable product `name` from the build products folder: beside (or a few folders above) the running
    /// test binary, which `swift build --build-tests` builds into the same folder as every product.
    static func product(_ name: String) throws -> URL {
        let fileManager = FileManager.default
        var starts: [URL] = []
        if let executable = try? fileManager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: executable))
        }
        starts.append(Bundle.main.bundleURL)
        starts.append(URL(fileURLWithPath: CommandLine.arguments[0]))
        for start in starts {
            var folder = start.deletingLastPathComponent()
            for _ in 0..<5 {
                let candidate = folder.appendingPathComponent(name)
                if fileManager.isExecutableFile(atPath: candidate.path) { return candidate }
                folder = folder.deletingLastPathComponent()
            }
        }
        throw LabError(
            "\(name) not found beside the test binary (\(starts.map(\.path))); run `swift build --build-tests` "
                + "first")
    }
}
