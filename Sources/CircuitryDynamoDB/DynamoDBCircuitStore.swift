#if DynamoDB
import Circuitry
import Foundation
import Logging
import Synchronization

/// A store in an Amazon DynamoDB table, for fleets on AWS (Lambda, ECS, EKS) without a database of their own.
///
/// Each update of a circuit is optimistic: a strongly consistent `GetItem`, the breaker's rules, then a
/// conditional write that succeeds only if the item still has the version that was read
/// (`ConditionExpression`). If another process wrote in between, the update runs again after a jittered backoff,
/// at most ``Configuration/maximumConflictRetries`` times. A state change writes the record and its history
/// entries together in one `TransactWriteItems`. Nothing is held across the user's work, and updates of one circuit
/// in one process wait for each other in the process rather than race each other's conditions.
///
/// **Requests per call** (what AWS bills): a decision that needs no write (closed admits, open rejects) is one
/// `GetItem`; a failure, or a batch of successes, is a `GetItem` and a `PutItem`; a state change is a `GetItem`, a
/// read of the history counter, one `TransactWriteItems` of 4 items (record, counter, the circuit's history, the
/// log of all) and a `Query` that trims the circuit's history to ``Configuration/historyLimit`` (with a
/// `BatchWriteItem` of deletes once it is full). Each conflict adds a `GetItem` and a write; a failed conditional
/// write is billed too. ``statistics`` counts them.
///
/// **Time.** DynamoDB has no clock to ask: "now" is this host's clock (or the injected `WallClock`), read after
/// the record. Hosts must keep their clocks in step (NTP; on AWS, the Amazon Time Sync Service). A host whose clock
/// is off by `s` sees open periods end up to `s` early or late; a new probe lease
/// is written ``Configuration/clockSkewTolerance`` longer than `BreakerSettings.probeTimeout`, so that a host
/// whose clock is ahead by up to that much never judges another host's lease expired while its probe may still run.
///
/// **History ids** increase in commit order across all circuits: the `meta` item holds the last id, and a
/// transaction that appends history requires it unchanged and advances it. State changes of the whole table are
/// therefore put in line through that one item (two at once: one of them runs again), which suits their rate
/// (circuits open and close now and then); healthy traffic and failures never touch it.
///
/// The store talks to DynamoDB through a small client of its own (SigV4 over swift-crypto, async-http-client),
/// because no AWS SDK for Swift is available to this package; with one, Soto (`SotoDynamoDB`) would replace it,
/// bringing the credential sources this client lacks (instance and container metadata, SSO, web identity).
///
/// Failures are `CircuitStoreError`s whose `location` is ``Configuration/location``: `CircuitStoreError.Code.cannotOpen`
/// (no such table, the endpoint never answered, credentials refused), `CircuitStoreError.Code.connectionLost`
/// (the endpoint stopped answering, or 5xx after the retries), `CircuitStoreError.Code.busy` (throttled after
/// the retries, or conflicts beyond the bound), `CircuitStoreError.Code.foreignDatabase` and
/// `CircuitStoreError.Code.newerSchema`.
public final class DynamoDBCircuitStore: CircuitStore {
    /// The settings the store was created with.
    public let configuration: Configuration

    /// How many transitions of each circuit the history keeps (``Configuration/historyLimit``).
    public var historyLimit: Int { configuration.historyLimit }
    let client: DynamoDBClient
    let clock: any WallClock
    let logger: Logger
    private let queue = CircuitQueue()
    private let state = Mutex(State())

    private struct State {
        var tableReady = false
        var hasConnected = false
    }

    /// Creates a store for the table in `configuration`. Nothing is sent until the first operation (or
    /// ``prepare()``).
    ///
    /// - Parameters:
    ///   - configuration: The table, the region, the endpoint, the credentials' source, the timeouts and retries.
    ///   - clock: Where "now" comes from: this host's clock by default.
    ///   - logger: Where the store logs.
    ///   - environment: Where ``AWSCredentials/Source/standard`` looks for credentials: the process's environment
    ///     by default. With an ``Configuration/endpoint`` on a loopback address (a local emulator such as DynamoDB
    ///     Local or moto, which accept any key) and no credentials found, the store signs with placeholder ones.
    /// - Throws: `ConfigurationError` for settings out of range or credentials that cannot be found.
    public init(
        configuration: Configuration, clock: any WallClock = SystemClock(), logger: Logger,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        let credentials: AWSCredentials
        do {
            credentials = try AWSCredentials.resolve(configuration.credentials, environment: environment)
        } catch  where configuration.credentials == .standard && configuration.isLocalEmulator {
            credentials = AWSCredentials(accessKeyID: "local", secretAccessKey: "local")
        }
        self.client = DynamoDBClient(
            endpoint: configuration.resolvedEndpoint, region: configuration.region, credentials: credentials,
            retry: .init(
                maximumRetries: configuration.maximumRetries, baseBackoff: configuration.baseBackoff,
                maximumBackoff: .milliseconds(200)),
            logger: logger)
    }

    /// Creates a store from a URL such as `dynamodb://circuits?region=eu-west-1` (see
    /// ``Configuration/init(url:environment:)``).
    public convenience init(url: String, clock: any WallClock = SystemClock(), logger: Logger)
        throws(ConfigurationError)
    {
        try self.init(configuration: Configuration(url: url), clock: clock, logger: logger)
    }

    /// The table as a URL: `dynamodb://TABLE?region=REGION[&endpoint=URL]`.
    public var location: String { configuration.location }

    /// Requests sent since the store was created, by operation (`GetItem`, `PutItem`, `TransactWriteItems`, …),
    /// and the store's retries: `retry` (a request sent again after throttling, a 5xx or a connection failure) and
    /// `conflict` (an update run again because another process wrote the circuit first), and `conflicts.max` (the most
    /// conflicts one successful update met).
    public var statistics: [String: Int] { client.statistics.snapshot }

    // MARK: CircuitStore

    // `read` and `update` run without the caller's cancellation: an HTTP request ends when its task is cancelled, and
    // recording an outcome or flushing from a cancelled task must still complete, within the operation's deadline.

    public func read(_ name: String) async throws -> (record: CircuitRecord?, now: Timestamp) {
        try await withoutCancellation {
            try await prepareTableIfNeeded()
            let stored = try await getRecord(name, deadline: ContinuousClock.now + configuration.operationTimeout)
            return (stored?.record, clock.now())
        }
    }

    public func update<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>
    ) async throws -> Value {
        let value = try await withoutCancellation {
            try await prepareTableIfNeeded()
            let deadline = ContinuousClock.now + configuration.operationTimeout
            return try await queue.withTurn(name, deadline: deadline) {
                try await self.updateInTurn(name, body, deadline: deadline)
            }
        }
        guard let value else {
            throw CircuitStoreError(
                code: .busy,
                message: "this process's other updates of the circuit \(name.debugDescription) did not finish "
                    + "within \(configuration.operationTimeout)", location: location)
        }
        return value
    }

    public func list() async throws -> (records: [CircuitRecord], now: Timestamp) {
        try await prepareTableIfNeeded()
        let items = try await scanCircuits(filter: nil)
        var records: [CircuitRecord] = []
        for item in items {
            records.append(try DynamoDBItems.stored(item, location: location).record)
        }
        // By UTF-8 bytes, as the SQL stores order names.
        records.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return (records, clock.now())
    }

    public func remove(_ name: String) async throws -> Bool {
        try await prepareTableIfNeeded()
        let answer = try await request(
            "DeleteItem", ["Key": .object(DynamoDBItems.recordKey(name)), "ReturnValues": .string("ALL_OLD")],
            deadline: ContinuousClock.now + configuration.operationTimeout)
        return answer["Attributes"]?.object != nil
    }

    public func removeIdle(idleFor: Duration) async throws -> [String] {
        try await prepareTableIfNeeded()
        let cutoff = clock.now() - idleFor
        let items = try await scanCircuits(
            filter: (
                "#state = :closed AND attribute_not_exists(#override) AND updated_at < :cutoff",
                ["#state": .string("state"), "#override": .string("override")],
                [":closed": Attribute.s("closed"), ":cutoff": Attribute.n(cutoff.millisecondsSince1970)]
            ))
        var removed: [String] = []
        for item in items {
            let stored = try DynamoDBItems.stored(item, location: location)
            guard stored.record.isIdle(before: cutoff) else { continue }
            // Only if nobody wrote it since the scan: a circuit that came back to life stays.
            do {
                _ = try await client.call(
                    "DeleteItem",
                    .object([
                        "TableName": .string(configuration.table),
                        "Key": .object(DynamoDBItems.recordKey(stored.record.name)),
                        "ConditionExpression": .string("#version = :version"),
                        "ExpressionAttributeNames": .object(["#version": .string("version")]),
                        "ExpressionAttributeValues": .object([":version": Attribute.n(stored.version)]),
                    ]), deadline: ContinuousClock.now + configuration.operationTimeout)
                removed.append(stored.record.name)
            } catch .service(type: "ConditionalCheckFailedException", _, _, _) {
                continue
            } catch {
                throw storeError(error)
            }
        }
        return removed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public func history(of name: String?, afterID: Int64?, limit: Int) async throws -> [HistoryEntry] {
        guard limit > 0 else { return [] }
        try await prepareTableIfNeeded()
        let partition = name.map(DynamoDBItems.historyPartition) ?? DynamoDBItems.logPartition
        var input: Item = [
            "KeyConditionExpression": .string(afterID == nil ? "pk = :pk" : "pk = :pk AND sk > :after"),
            "ExpressionAttributeValues": .object(
                [":pk": Attribute.s(partition)].merging(afterID.map { [":after": Attribute.n($0)] } ?? [:]) {
                    $1
                }),
            // Oldest first after an id; otherwise the newest `limit`, turned around below.
            "ScanIndexForward": .bool(afterID != nil),
            "ConsistentRead": .bool(true),
        ]
        var entries: [HistoryEntry] = []
        let deadline = ContinuousClock.now + configuration.operationTimeout
        while entries.count < limit {
            input["Limit"] = .integer(Int64(limit - entries.count))
            let page = try await request("Query", input, deadline: deadline)
            for item in page["Items"]?.array ?? [] {
                entries.append(try DynamoDBItems.entry(item.object ?? [:], location: location))
            }
            guard let next = page["LastEvaluatedKey"] else { break }
            input["ExclusiveStartKey"] = next
        }
        return afterID == nil ? entries.reversed() : entries
    }

    // MARK: Requests

    /// Sends `operation` on the table, turning failures into `CircuitStoreError`s.
    func request(_ operation: String, _ input: Item, deadline: ContinuousClock.Instant)
        async throws(CircuitStoreError) -> JSONValue
    {
        var input = input
        input["TableName"] = .string(configuration.table)
        do {
            let answer = try await client.call(operation, .object(input), deadline: deadline)
            noteSuccess()
            return answer
        } catch {
            throw storeError(error)
        }
    }

    func storeError(_ error: DynamoDBError) -> CircuitStoreError {
        let mapped = DynamoDBErrorMapping.storeError(
            error, location: location, hasConnected: state.withLock { $0.hasConnected })
        if DynamoDBErrorMapping.isUnreachable(error) {
            logger.debug(
                "DynamoDB store cannot reach the endpoint",
                metadata: ["circuitry.store": "\(location)", "circuitry.error": "\(mapped)"])
        }
        return mapped
    }

    func noteSuccess() {
        state.withLock { $0.hasConnected = true }
    }

    var isTableReady: Bool { state.withLock { $0.tableReady } }

    func markTableReady() {
        state.withLock { $0.tableReady = true }
    }

    /// The stored record of `name`, read with strong consistency.
    func getRecord(_ name: String, deadline: ContinuousClock.Instant) async throws(CircuitStoreError)
        -> DynamoDBItems.Stored?
    {
        let answer = try await request(
            "GetItem", ["Key": .object(DynamoDBItems.recordKey(name)), "ConsistentRead": .bool(true)],
            deadline: deadline)
        guard let item = answer["Item"]?.object else { return nil }
        return try DynamoDBItems.stored(item, location: location)
    }

    /// Every circuit item (matching `filter`, an expression with its names and values), page by page.
    private func scanCircuits(filter: (String, [String: JSONValue], Item)?) async throws(CircuitStoreError)
        -> [Item]
    {
        var names: [String: JSONValue] = ["#kind": .string("kind")]
        var values: Item = [":circuit": Attribute.s("circuit")]
        var expression = "#kind = :circuit"
        if let (more, moreNames, moreValues) = filter {
            expression += " AND " + more
            names.merge(moreNames) { $1 }
            values.merge(moreValues) { $1 }
        }
        var input: Item = [
            "FilterExpression": .string(expression), "ExpressionAttributeNames": .object(names),
            "ExpressionAttributeValues": .object(values), "ConsistentRead": .bool(true),
        ]
        var items: [Item] = []
        // Each page is bounded on its own: a large table takes several, and none may hang.
        while true {
            let page = try await request(
                "Scan", input, deadline: ContinuousClock.now + configuration.operationTimeout)
            items += (page["Items"]?.array ?? []).compactMap(\.object)
            guard let next = page["LastEvaluatedKey"] else { return items }
            input["ExclusiveStartKey"] = next
        }
    }
}
#endif
