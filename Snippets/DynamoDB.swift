// The DynamoDB store (trait DynamoDB): breakers on AWS without a database server.

// snippet.hide
#if DynamoDB
// snippet.show
import Circuitry
import CircuitryDynamoDB
// snippet.hide
import Logging

let logger = Logger(label: "dynamodb")
let configuration = BreakerFactory.Configuration()
// snippet.show

let store = try DynamoDBCircuitStore(url: "dynamodb://circuits?region=eu-west-1", logger: logger)
try await store.prepare()  // optional: fail at start-up if the table is missing or not Circuitry's
let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)
// snippet.hide
_ = breakers
#endif
