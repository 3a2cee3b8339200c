#if DynamoDB
import Circuitry

/// Turns a ``DynamoDBError`` into a `CircuitStoreError` whose code says what kind of failure it was.
/// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html
enum DynamoDBErrorMapping {
    static func storeError(_ error: DynamoDBError, location: String, hasConnected: Bool) -> CircuitStoreError {
        let code: CircuitStoreError.Code
        switch error {
        case .service(let type, _, let status, _):
            code = self.code(type: type, status: status)
        case .timedOut:
            code = hasConnected ? .connectionLost : .cannotOpen
        case .connection:
            code = hasConnected ? .connectionLost : .cannotOpen
        case .malformedResponse:
            code = .other
        }
        return CircuitStoreError(code: code, message: "\(error)", location: location)
    }

    static func code(type: String, status: Int) -> CircuitStoreError.Code {
        switch type {
        // Over the table's or the account's capacity after the retries: trying later may succeed.
        case _ where DynamoDBError.throttling.contains(type): .busy
        case "TransactionConflictException", "TransactionInProgressException": .busy
        // The table does not exist in this region (or is being created or deleted).
        case "ResourceNotFoundException", "ResourceInUseException": .cannotOpen
        // Credentials refused or not allowed: the store cannot be used as configured.
        case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
            "MissingAuthenticationTokenException", "MissingAuthenticationToken", "ExpiredTokenException",
            "IncompleteSignatureException", "InvalidClientTokenId", "SignatureDoesNotMatch":
            .cannotOpen
        case "ItemCollectionSizeLimitExceededException": .full
        case "InternalServerError", "ServiceUnavailable": .connectionLost
        default: status >= 500 ? .connectionLost : .other
        }
    }

    /// Whether `error` means the endpoint could not be reached or did not answer in time.
    static func isUnreachable(_ error: DynamoDBError) -> Bool {
        switch error {
        case .timedOut, .connection: true
        case .service, .malformedResponse: false
        }
    }
}
#endif
