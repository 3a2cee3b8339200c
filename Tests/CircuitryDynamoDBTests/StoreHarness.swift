#if DynamoDB
import Circuitry
import CircuitryDynamoDB
import CircuitryDynamoDBTestSupport
import Foundation
import Logging
import Synchronization

/// A store on `endpoint` (moto, or a relay in front of it) in a table of its own, created on first use.
func makeStore(
    endpoint: String, table: String = TestMotoServer.freshTable(), clock: any WallClock = SystemClock(),
    configure: (inout DynamoDBCircuitStore.Configuration) -> Void = { _ in }
) throws -> DynamoDBCircuitStore {
    var configuration = DynamoDBCircuitStore.Configuration(
        table: table, region: "us-east-1", endpoint: URL(string: endpoint))
    configuration.credentials = .fixed(AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing"))
    configuration.createTableIfMissing = true
    // moto serves one request at a time, and the whole suite runs in parallel on 2 cores: a request can wait seconds
    // in its line, and a check that makes a hundred requests in a row, minutes. Tests of bounds set their own; the
    // others must measure the contract, not the load.
    configuration.operationTimeout = .seconds(120)
    configure(&configuration)
    return try DynamoDBCircuitStore(configuration: configuration, clock: clock, logger: .quiet)
}

/// Adds one failure to circuit `name` in one read-modify-write.
func addFailure(in store: any CircuitStore, _ name: String = "c") async throws {
    try await store.update(name) { record, now in
        var current = record ?? CircuitRecord(name: name, createdAt: now)
        current.counts.failures += 1
        record = current
        return StoreUpdate(value: (), write: true)
    }
}

/// Retries `operation` every 100 ms until it succeeds; a store error still there after 20 s is thrown.
func firstSuccess(of operation: () async throws -> Void) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while true {
        do {
            return try await operation()
        } catch is CircuitStoreError where ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// The store error `operation` throws, or `nil` if it succeeds; untyped errors become `other`.
func storeError(of operation: @Sendable () async throws -> Void) async -> CircuitStoreError? {
    do {
        try await operation()
        return nil
    } catch let error as CircuitStoreError {
        return error
    } catch {
        return CircuitStoreError(code: .other, message: "untyped: \(error)")
    }
}

/// The task's value, or `nil` if it has none after `timeout` (the task is left running).
func firstOf<T: Sendable>(_ task: Task<T, Never>, orAfter timeout: Duration) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    let answer = Mutex<T?>(nil)
    let watcher = Task {
        let value = await task.value
        answer.withLock { $0 = value }
    }
    defer { watcher.cancel() }
    while ContinuousClock.now < deadline {
        if let value = answer.withLock({ $0 }) { return value }
        try await Task.sleep(for: .milliseconds(10))
    }
    return nil
}

extension Logger {
    /// Drops everything: the tests assert on errors, not on log lines.
    static let quiet = Logger(label: "circuitry.tests", factory: { _ in SwiftLogNoOpLogHandler() })
}
#endif
