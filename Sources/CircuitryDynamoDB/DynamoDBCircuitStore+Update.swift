#if DynamoDB
import Circuitry
import Foundation

extension DynamoDBCircuitStore {
    /// A write that was sent but not acknowledged, or whose condition failed: it may have landed all the same (a
    /// request retried after a lost answer finds its own first write). The next read tells by its token.
    private struct Pending<Value> {
        var token: String
        var value: Value
        /// The write did not touch the record (history only): the token is in the `meta` item instead.
        var inMeta: Bool
        /// The circuits whose history the write appended to, to trim once it has landed.
        var circuits: Set<String>
    }

    private enum Outcome {
        case committed
        case conflict
    }

    /// One update of `name`, in this process's turn for that circuit: read, run `body`, write conditionally, and
    /// again after a conflict, within `deadline`.
    func updateInTurn<Value: Sendable>(
        _ name: String, _ body: (inout CircuitRecord?, Timestamp) throws -> StoreUpdate<Value>,
        deadline: ContinuousClock.Instant
    ) async throws -> Value {
        var pending: Pending<Value>?
        var conflicts = 0
        while true {
            let stored = try await getRecord(name, deadline: deadline)
            if let landed = pending {
                var hasLanded = stored?.writeID == landed.token
                if !hasLanded, landed.inMeta { hasLanded = try await lastWriteID(deadline: deadline) == landed.token }
                if hasLanded {
                    for circuit in landed.circuits { await trimHistory(of: circuit, deadline: deadline) }
                    return landed.value
                }
            }
            pending = nil
            let now = clock.now()
            var record = stored?.record
            let result = try body(&record, now)
            var written = result.write ? record : nil
            if written == nil && result.transitions.isEmpty { return result.value }
            if var new = written {
                new.updatedAt = now
                extendNewLeases(of: &new, stored: stored?.record)
                written = new
            }
            let token = UUID().uuidString
            let outcome: Outcome
            if let written, result.transitions.isEmpty {
                outcome = try await put(written, over: stored, token: token, deadline: deadline)
            } else {
                outcome = try await commit(
                    written, over: stored, name: name, transitions: result.transitions, token: token,
                    deadline: deadline)
            }
            switch outcome {
            case .committed:
                if conflicts > 0 { client.statistics.maximum("conflicts.max", conflicts) }
                for circuit in Set(result.transitions.map(\.circuit)) {
                    await trimHistory(of: circuit, deadline: deadline)
                }
                return result.value
            case .conflict:
                client.statistics.count("conflict")
                conflicts += 1
                pending = Pending(
                    token: token, value: result.value, inMeta: written == nil,
                    circuits: Set(result.transitions.map(\.circuit)))
                let pause = conflictBackoff(after: conflicts)
                guard conflicts <= configuration.maximumConflictRetries, ContinuousClock.now + pause < deadline
                else {
                    // The last write may still be the one that landed.
                    if let stored = try? await getRecord(name, deadline: deadline), stored.writeID == token {
                        return result.value
                    }
                    throw CircuitStoreError(
                        code: .busy,
                        message: "other processes wrote the circuit \(name.debugDescription) between each of "
                            + "\(conflicts) reads and writes of this one", location: location)
                }
                try? await Task.sleep(for: pause)
            }
        }
    }

    /// A random pause up to `baseBackoff × 2^(conflicts − 1)`, at most 50 ms: short, because the other process has
    /// already written (there is no overload to wait out), and jittered, so that the losers of a race do not meet
    /// again at once.
    private func conflictBackoff(after conflicts: Int) -> Duration {
        let ceiling = min(.milliseconds(50), configuration.baseBackoff * (1 << min(conflicts - 1, 20)))
        return .milliseconds(Int64.random(in: 1...max(1, ceiling.milliseconds)))
    }

    /// Writes a new probe lease ``Configuration/clockSkewTolerance`` longer, so that a host whose clock is ahead
    /// by up to that much does not take it for expired while the probe may still run.
    private func extendNewLeases(of record: inout CircuitRecord, stored: CircuitRecord?) {
        guard configuration.clockSkewTolerance > .zero else { return }
        let known = Set((stored?.probes ?? []).map(\.id))
        for index in record.probes.indices where !known.contains(record.probes[index].id) {
            record.probes[index].deadline = record.probes[index].deadline + configuration.clockSkewTolerance
        }
    }

    /// The condition that the record is still as read: the same version, or still absent.
    private func unchanged(_ stored: DynamoDBItems.Stored?) -> Item {
        guard let stored else { return ["ConditionExpression": .string("attribute_not_exists(pk)")] }
        return [
            "ConditionExpression": .string("#version = :version"),
            "ExpressionAttributeNames": .object(["#version": .string("version")]),
            "ExpressionAttributeValues": .object([":version": Attribute.n(stored.version)]),
        ]
    }

    /// A record without transitions: one conditional `PutItem`.
    private func put(
        _ record: CircuitRecord, over stored: DynamoDBItems.Stored?, token: String,
        deadline: ContinuousClock.Instant
    ) async throws(CircuitStoreError) -> Outcome {
        var input = unchanged(stored)
        input["TableName"] = .string(configuration.table)
        input["Item"] = .object(
            DynamoDBItems.item(
                record, version: (stored?.version ?? 0) + 1, writeID: token, idleExpiry: configuration.idleExpiry))
        do {
            _ = try await client.call("PutItem", .object(input), deadline: deadline)
            noteSuccess()
            return .committed
        } catch .service(type: "ConditionalCheckFailedException", _, _, _) {
            return .conflict
        } catch {
            throw storeError(error)
        }
    }

    /// A state change: the record (or a check that it is unchanged), the history counter, and each transition in
    /// the circuit's history and in the log of all, in one `TransactWriteItems`.
    private func commit(
        _ record: CircuitRecord?, over stored: DynamoDBItems.Stored?, name: String,
        transitions: [CircuitTransition], token: String, deadline: ContinuousClock.Instant
    ) async throws(CircuitStoreError) -> Outcome {
        let last = try await lastHistoryID(deadline: deadline)
        let table = JSONValue.string(configuration.table)
        var items: [JSONValue] = []
        var recordAction = unchanged(stored)
        recordAction["TableName"] = table
        if let record {
            recordAction["Item"] = .object(
                DynamoDBItems.item(
                    record, version: (stored?.version ?? 0) + 1, writeID: token,
                    idleExpiry: configuration.idleExpiry))
            items.append(.object(["Put": .object(recordAction)]))
        } else {
            recordAction["Key"] = .object(DynamoDBItems.recordKey(name))
            items.append(.object(["ConditionCheck": .object(recordAction)]))
        }
        let next = last + Int64(transitions.count)
        items.append(
            .object([
                "Update": .object([
                    "TableName": table, "Key": .object(DynamoDBItems.metaKey),
                    "UpdateExpression": .string("SET last_history_id = :next, last_write_id = :token"),
                    "ConditionExpression": .string("last_history_id = :last"),
                    "ExpressionAttributeValues": .object([
                        ":next": Attribute.n(next), ":last": Attribute.n(last), ":token": Attribute.s(token),
                    ]),
                ])
            ]))
        for (offset, transition) in transitions.enumerated() {
            let entry = HistoryEntry(id: last + 1 + Int64(offset), transition: transition)
            for partition in [DynamoDBItems.historyPartition(transition.circuit), DynamoDBItems.logPartition] {
                let item = DynamoDBItems.item(
                    entry, partition: partition, historyExpiry: configuration.historyExpiry)
                items.append(.object(["Put": .object(["TableName": table, "Item": .object(item)])]))
            }
        }
        do {
            _ = try await client.call(
                "TransactWriteItems",
                .object(["TransactItems": .array(items), "ClientRequestToken": .string(token)]),
                deadline: deadline)
            noteSuccess()
            return .committed
        } catch .service(type: "TransactionCanceledException", _, _, let reasons)
            where reasons.contains("ConditionalCheckFailed") || reasons.contains("TransactionConflict")
        {
            return .conflict
        } catch .service(type: "TransactionConflictException", _, _, _) {
            return .conflict
        } catch {
            throw storeError(error)
        }
    }

    private func meta(deadline: ContinuousClock.Instant) async throws(CircuitStoreError) -> Item {
        let answer = try await request(
            "GetItem", ["Key": .object(DynamoDBItems.metaKey), "ConsistentRead": .bool(true)], deadline: deadline)
        guard let meta = answer["Item"]?.object else {
            throw CircuitStoreError(
                code: .corrupt, message: "the table's meta item (pk \"meta\") is missing", location: location)
        }
        return meta
    }

    /// The id of the last history entry committed, from the `meta` item.
    private func lastHistoryID(deadline: ContinuousClock.Instant) async throws(CircuitStoreError) -> Int64 {
        guard let last = Attribute.integer(try await meta(deadline: deadline)["last_history_id"]) else {
            throw CircuitStoreError(
                code: .corrupt, message: "the meta item has no readable last_history_id", location: location)
        }
        return last
    }

    private func lastWriteID(deadline: ContinuousClock.Instant) async throws(CircuitStoreError) -> String? {
        Attribute.string(try await meta(deadline: deadline)["last_write_id"])
    }

    /// Deletes the circuit's history entries beyond the newest ``Configuration/historyLimit``, with their copies
    /// in the log. After the commit, so a failure here loses nothing: it is logged, and the next state change of
    /// the circuit trims again.
    private func trimHistory(of name: String, deadline: ContinuousClock.Instant) async {
        let partition = DynamoDBItems.historyPartition(name)
        do {
            var input: Item = [
                "KeyConditionExpression": .string("pk = :pk"),
                "ExpressionAttributeValues": .object([":pk": Attribute.s(partition)]),
                "ProjectionExpression": .string("sk"), "ScanIndexForward": .bool(false),
                "ConsistentRead": .bool(true), "Limit": .integer(Int64(configuration.historyLimit + 25)),
            ]
            var seen = 0
            var excess: [Int64] = []
            while true {
                let page = try await request("Query", input, deadline: deadline)
                for item in page["Items"]?.array ?? [] {
                    seen += 1
                    if seen > configuration.historyLimit, let id = Attribute.integer(item["sk"]) {
                        excess.append(id)
                    }
                }
                guard let next = page["LastEvaluatedKey"] else { break }
                input["ExclusiveStartKey"] = next
            }
            let deletes = excess.flatMap { id in
                [partition, DynamoDBItems.logPartition].map { pk in
                    JSONValue.object([
                        "DeleteRequest": .object(["Key": .object(["pk": Attribute.s(pk), "sk": Attribute.n(id)])])
                    ])
                }
            }
            for start in stride(from: 0, to: deletes.count, by: 25) {
                let batch = Array(deletes[start..<min(start + 25, deletes.count)])
                let answer = try await client.call(
                    "BatchWriteItem",
                    .object(["RequestItems": .object([configuration.table: .array(batch)])]), deadline: deadline)
                if let left = answer["UnprocessedItems"]?.object, !left.isEmpty {
                    logger.debug(
                        "DynamoDB left some history deletes unprocessed; the next state change trims again",
                        metadata: ["circuitry.store": "\(location)", "circuitry.circuit": "\(name)"])
                }
            }
        } catch {
            logger.debug(
                "could not trim the history of a circuit; the next state change trims again",
                metadata: [
                    "circuitry.store": "\(location)", "circuitry.circuit": "\(name)", "circuitry.error": "\(error)",
                ])
        }
    }
}
#endif
