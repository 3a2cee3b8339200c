#if DynamoDB
import Circuitry

extension DynamoDBCircuitStore {
    /// The table as ``prepare()`` creates it, for CloudFormation: `pk` (string) and `sk` (number) as the key,
    /// on-demand capacity, and TTL on the `ttl` attribute. Terraform's `aws_dynamodb_table` says the same with
    /// `hash_key = "pk"`, `range_key = "sk"`, two `attribute` blocks (`pk` of type `S`, `sk` of type `N`),
    /// `billing_mode = "PAY_PER_REQUEST"` and `ttl { attribute_name = "ttl", enabled = true }`.
    public static let cloudFormationTemplate = """
        {
          "Type": "AWS::DynamoDB::Table",
          "Properties": {
            "TableName": "circuits",
            "AttributeDefinitions": [
              {"AttributeName": "pk", "AttributeType": "S"},
              {"AttributeName": "sk", "AttributeType": "N"}
            ],
            "KeySchema": [
              {"AttributeName": "pk", "KeyType": "HASH"},
              {"AttributeName": "sk", "KeyType": "RANGE"}
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": true}
          }
        }
        """

    /// Checks that the table is there and is Circuitry's, creating it if it is missing and
    /// ``Configuration/createTableIfMissing`` is set: to fail at start-up rather than on the first call.
    /// Operations do this on their own the first time.
    ///
    /// - Throws: `CircuitStoreError` with `CircuitStoreError.Code.cannotOpen` (no such table, the endpoint
    ///   cannot be reached, credentials refused), `CircuitStoreError.Code.newerSchema` (a table of a newer
    ///   Circuitry) or `CircuitStoreError.Code.foreignDatabase` (another key schema, or items that are not
    ///   Circuitry's).
    public func prepare() async throws {
        try await prepareTableIfNeeded()
    }

    func prepareTableIfNeeded() async throws(CircuitStoreError) {
        guard !isTableReady else { return }
        // Checking the table is a single read or two, within the operation's bound; creating one takes seconds
        // on AWS and has a bound of its own.
        var deadline = ContinuousClock.now + configuration.operationTimeout
        var created = false
        while true {
            let answer: JSONValue
            do {
                answer = try await client.call(
                    "GetItem",
                    .object([
                        "TableName": .string(configuration.table), "Key": .object(DynamoDBItems.metaKey),
                        "ConsistentRead": .bool(true),
                    ]), deadline: deadline)
            } catch .service(type: "ResourceNotFoundException", _, _, _)
                where configuration.createTableIfMissing && !created
            {
                try await createTable()
                created = true
                deadline = ContinuousClock.now + configuration.operationTimeout
                continue
            } catch .service(type: "ResourceNotFoundException", _, _, _) {
                throw CircuitStoreError(
                    code: .cannotOpen,
                    message: "the table \(configuration.table.debugDescription) does not exist in "
                        + "\(configuration.region): create it (see DynamoDBCircuitStore.cloudFormationTemplate) "
                        + "or set createTableIfMissing (create_table=true in the URL)", location: location)
            } catch .service(type: "ValidationException", let message, _, _) {
                throw CircuitStoreError(
                    code: .foreignDatabase,
                    message: "the table \(configuration.table.debugDescription) is not keyed as Circuitry's "
                        + "(pk string, sk number): \(message); it is left untouched", location: location)
            } catch {
                throw storeError(error)
            }
            noteSuccess()
            if let meta = answer["Item"]?.object {
                try check(meta: meta)
            } else {
                try await writeMeta(deadline: deadline)
            }
            markTableReady()
            return
        }
    }

    private func check(meta: Item) throws(CircuitStoreError) {
        guard Attribute.string(meta["kind"]) == "meta", let version = Attribute.integer(meta["schema_version"])
        else {
            throw CircuitStoreError(
                code: .foreignDatabase,
                message: "the table's item (pk \"meta\", sk 0) is not Circuitry's; the table is left untouched",
                location: location)
        }
        guard version <= DynamoDBItems.schemaVersion else {
            throw CircuitStoreError(
                code: .newerSchema,
                message: "the table has schema version \(version), written by a newer Circuitry; this build "
                    + "reads version \(DynamoDBItems.schemaVersion) and leaves it untouched", location: location)
        }
    }

    /// A table without the `meta` item: Circuitry's if it is empty (just provisioned), someone else's otherwise.
    private func writeMeta(deadline: ContinuousClock.Instant) async throws(CircuitStoreError) {
        let sample = try await request(
            "Scan", ["Limit": .integer(1), "ConsistentRead": .bool(true)], deadline: deadline)
        if let items = sample["Items"]?.array, !items.isEmpty {
            // Another process may have written the meta item (and more) since this one looked.
            if let meta = try await request(
                "GetItem", ["Key": .object(DynamoDBItems.metaKey), "ConsistentRead": .bool(true)], deadline: deadline
            )["Item"]?.object {
                return try check(meta: meta)
            }
            throw CircuitStoreError(
                code: .foreignDatabase,
                message: "the table \(configuration.table.debugDescription) has items but no Circuitry meta item; "
                    + "it is left untouched", location: location)
        }
        var meta = DynamoDBItems.metaKey
        meta["kind"] = Attribute.s("meta")
        meta["schema_version"] = Attribute.n(DynamoDBItems.schemaVersion)
        meta["last_history_id"] = Attribute.n(0)
        meta["created_utc"] = Attribute.s(clock.now().description)
        do {
            _ = try await client.call(
                "PutItem",
                .object([
                    "TableName": .string(configuration.table), "Item": .object(meta),
                    "ConditionExpression": .string("attribute_not_exists(pk)"),
                ]), deadline: deadline)
        } catch .service(type: "ConditionalCheckFailedException", _, _, _) {
            // Another process wrote it first: it is checked on the next look.
            return try await checkMetaAgain(deadline: deadline)
        } catch {
            throw storeError(error)
        }
        logger.info(
            "prepared the DynamoDB table for Circuitry",
            metadata: [
                "circuitry.store": "\(location)", "circuitry.schema.version": "\(DynamoDBItems.schemaVersion)",
            ])
    }

    private func checkMetaAgain(deadline: ContinuousClock.Instant) async throws(CircuitStoreError) {
        let answer = try await request(
            "GetItem", ["Key": .object(DynamoDBItems.metaKey), "ConsistentRead": .bool(true)], deadline: deadline)
        guard let meta = answer["Item"]?.object else {
            throw CircuitStoreError(code: .other, message: "the meta item vanished", location: location)
        }
        try check(meta: meta)
    }

    /// Creates the table (on-demand capacity), waits until it is active and turns TTL on. Several processes may
    /// do this at once: the others find the table being created and wait for it too.
    private func createTable() async throws(CircuitStoreError) {
        let deadline = ContinuousClock.now + .seconds(60)
        let attribute = { (name: String, type: String) in
            JSONValue.object(["AttributeName": .string(name), "AttributeType": .string(type)])
        }
        let key = { (name: String, type: String) in
            JSONValue.object(["AttributeName": .string(name), "KeyType": .string(type)])
        }
        do {
            _ = try await client.call(
                "CreateTable",
                .object([
                    "TableName": .string(configuration.table),
                    "AttributeDefinitions": .array([attribute("pk", "S"), attribute("sk", "N")]),
                    "KeySchema": .array([key("pk", "HASH"), key("sk", "RANGE")]),
                    "BillingMode": .string("PAY_PER_REQUEST"),
                ]), deadline: deadline)
            logger.info("created the DynamoDB table", metadata: ["circuitry.store": "\(location)"])
        } catch .service(type: "ResourceInUseException", _, _, _) {
            // Being created by another process, or there already.
        } catch {
            throw storeError(error)
        }
        var pause = Duration.milliseconds(50)
        while true {
            let description = try await request("DescribeTable", [:], deadline: deadline)
            if description["Table"]?["TableStatus"]?.string == "ACTIVE" { break }
            guard ContinuousClock.now + pause < deadline else {
                throw CircuitStoreError(
                    code: .cannotOpen, message: "the new table did not become active within 60 s",
                    location: location)
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(1))
        }
        do {
            _ = try await client.call(
                "UpdateTimeToLive",
                .object([
                    "TableName": .string(configuration.table),
                    "TimeToLiveSpecification": .object(["AttributeName": .string("ttl"), "Enabled": .bool(true)]),
                ]), deadline: deadline)
        } catch .service(type: "ValidationException", _, _, _) {
            // TTL already on (another process got there first).
        } catch {
            throw storeError(error)
        }
    }
}
#endif
