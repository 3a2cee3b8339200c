#if DynamoDB
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// The few DynamoDB operations the store needs, over DynamoDB's JSON protocol (`POST /`, `X-Amz-Target:
/// DynamoDB_20120810.<Operation>`, `application/x-amz-json-1.0`), signed with ``SignatureV4``.
///
/// Retryable failures are retried here with jittered exponential backoff, at most
/// ``RetryPolicy/maximumRetries`` times and never past the caller's deadline: throttling
/// (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`), the service's own
/// failures (`InternalServerError`, HTTP 5xx) and connection failures. Everything else is the caller's to decide
/// (a failed condition is contention, not a fault).
/// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
final class DynamoDBClient: Sendable {
    /// How failed requests are retried.
    struct RetryPolicy: Sendable {
        /// Retries after the first attempt.
        var maximumRetries: Int
        /// The first backoff's upper bound; each retry doubles it, up to ``maximumBackoff``.
        var baseBackoff: Duration
        /// The largest backoff.
        var maximumBackoff: Duration
    }

    let endpoint: URL
    let signer: SignatureV4
    let credentials: AWSCredentials
    let retry: RetryPolicy
    let statistics = RequestStatistics()
    private let http: HTTPClient
    private let host: String
    private let logger: Logger

    init(endpoint: URL, region: String, credentials: AWSCredentials, retry: RetryPolicy, logger: Logger) {
        self.endpoint = endpoint
        self.signer = SignatureV4(region: region, service: "dynamodb")
        self.credentials = credentials
        self.retry = retry
        self.logger = logger
        var host = endpoint.host ?? ""
        if host.contains(":") { host = "[\(host)]" }  // an IPv6 literal
        if let port = endpoint.port { host += ":\(port)" }
        self.host = host
        self.http = sharedHTTPClient
    }

    /// Runs `operation` with `input`, retrying what may be retried, and returns the response document.
    ///
    /// - Throws: ``DynamoDBError``: the service's error (with its type and message), or a timeout or connection
    ///   failure when retries ran out or `deadline` passed.
    func call(_ operation: String, _ input: JSONValue, deadline: ContinuousClock.Instant)
        async throws(DynamoDBError)
        -> JSONValue
    {
        let body = input.encoded()
        var attempt = 0
        // The last answer the service gave (throttling, a 5xx): when a retry of it is then cut off by the deadline,
        // that answer says what happened better than "no answer" — the service was reached and kept refusing.
        var lastAnswer: DynamoDBError?
        while true {
            statistics.count(operation, retry: attempt > 0)
            var failure: DynamoDBError
            do {
                return try await send(operation, body: body, deadline: deadline)
            } catch {
                failure = error
            }
            if case .service = failure {
                lastAnswer = failure
            } else if case .timedOut = failure, let lastAnswer, ContinuousClock.now >= deadline {
                failure = lastAnswer
            }
            guard failure.isRetryable, attempt < retry.maximumRetries else { throw failure }
            attempt += 1
            let backoff = self.backoff(attempt: attempt)
            guard ContinuousClock.now + backoff < deadline else { throw failure }
            logger.debug(
                "DynamoDB request will be retried",
                metadata: [
                    "circuitry.dynamodb.operation": "\(operation)", "circuitry.dynamodb.attempt": "\(attempt)",
                    "circuitry.error": "\(failure)",
                ])
            do {
                try await Task.sleep(for: backoff)
            } catch {
                throw failure
            }
        }
    }

    /// A random duration up to `base × 2^(attempt − 1)`, capped ("full jitter"), so that clients throttled
    /// together do not retry together.
    func backoff(attempt: Int) -> Duration {
        let ceiling = min(retry.maximumBackoff, retry.baseBackoff * (1 << min(attempt - 1, 20)))
        let milliseconds = max(1, ceiling.milliseconds)
        return .milliseconds(Int64.random(in: 1...milliseconds))
    }

    private func send(_ operation: String, body: [UInt8], deadline: ContinuousClock.Instant)
        async throws(DynamoDBError) -> JSONValue
    {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw .timedOut }
        let amzDate = SignatureV4.amzDate(Date())
        var headers: [SignatureV4.Header] = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Host", host),
            ("X-Amz-Date", amzDate),
            ("X-Amz-Target", "DynamoDB_20120810.\(operation)"),
        ]
        if let token = credentials.sessionToken { headers.append(("X-Amz-Security-Token", token)) }
        let authorization = signer.authorization(
            for: SignatureV4.Request(method: "POST", path: "/", headers: headers, body: body), amzDate: amzDate,
            credentials: credentials)

        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        for (name, value) in headers where name != "Host" { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Authorization", value: authorization)
        request.body = .bytes(ByteBuffer(bytes: body))
        let status: Int
        let bytes: [UInt8]
        do {
            let response = try await http.execute(
                request, timeout: .nanoseconds(max(1, remaining.nanoseconds)), logger: nil)
            status = Int(response.status.code)
            let buffer = try await response.body.collect(upTo: 16 << 20)
            bytes = Array(buffer.readableBytesView)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw .timedOut
        } catch is CancellationError {
            throw .timedOut
        } catch {
            if ContinuousClock.now >= deadline { throw .timedOut }
            throw .connection(Self.describe(error))
        }
        if (200..<300).contains(status) {
            do {
                return try JSONValue.decode(bytes)
            } catch {
                throw .malformedResponse("\(operation) answered HTTP \(status) with a body that is not JSON")
            }
        }
        throw DynamoDBError.service(status: status, body: bytes)
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            return "\(error)"
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return String(describing: error)
    }
}

/// The process-wide HTTP client of every store: its pool lives as long as the process (a global is never
/// deinitialised, so it needs no shutdown), and stores of one process share connections per endpoint. Every
/// request carries its own deadline, which bounds connecting too.
///
/// Up to 64 connections per endpoint (async-http-client's default of 8 would queue a busy process's updates of
/// different circuits behind each other); idle ones closed after 30 s, before DynamoDB drops them on its side. A
/// connection that cannot be made fails its request at once rather than being retried until the deadline: the
/// client's own retries (bounded, with backoff) decide. No redirects (DynamoDB sends none), no decompression.
private let sharedHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.redirectConfiguration = .disallow
    configuration.decompression = .disabled
    configuration.timeout.connect = .seconds(2)
    configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// Why a DynamoDB request failed.
enum DynamoDBError: Error, Sendable, CustomStringConvertible {
    /// The service answered with an error: its type (`ConditionalCheckFailedException`), message and, for a
    /// cancelled transaction, the reason code of each of its items (`None` for items that were fine).
    case service(type: String, message: String, status: Int, reasons: [String])
    /// No answer before the deadline.
    case timedOut
    /// No connection, or it was lost before the answer.
    case connection(String)
    /// An answer that is not what the protocol says.
    case malformedResponse(String)

    /// The error in a response with a status other than 2xx.
    static func service(status: Int, body: [UInt8]) -> DynamoDBError {
        let document = try? JSONValue.decode(body)
        // `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`: the type is after the `#`.
        let fullType = document?["__type"]?.string ?? "HTTP \(status)"
        let type = fullType.split(separator: "#").last.map(String.init) ?? fullType
        let message =
            document?["message"]?.string ?? document?["Message"]?.string
            ?? String(decoding: body.prefix(200), as: UTF8.self)
        let reasons = (document?["CancellationReasons"]?.array ?? []).map { $0["Code"]?.string ?? "None" }
        return .service(type: type, message: message, status: status, reasons: reasons)
    }

    /// The service's error type, if the service answered.
    var type: String? {
        guard case .service(let type, _, _, _) = self else { return nil }
        return type
    }

    /// Throttling, the service's own failures, and connection failures may succeed when tried again.
    var isRetryable: Bool {
        switch self {
        case .service(let type, _, let status, _):
            return Self.throttling.contains(type) || type == "InternalServerError"
                || type == "ServiceUnavailable" || status >= 500
        case .connection: return true
        case .timedOut, .malformedResponse: return false
        }
    }

    /// The error types DynamoDB answers when a table, a partition or an account is over its limits.
    static let throttling: Set<String> = [
        "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
        "LimitExceededException",
    ]

    var description: String {
        switch self {
        case .service(let type, let message, let status, let reasons):
            let detail = reasons.contains { $0 != "None" } ? " (reasons: \(reasons.joined(separator: ", ")))" : ""
            return "DynamoDB error \(type) (HTTP \(status)): \(message)\(detail)"
        case .timedOut: return "no answer from DynamoDB before the deadline"
        case .connection(let cause): return "could not reach DynamoDB: \(cause)"
        case .malformedResponse(let what): return "unreadable answer from DynamoDB: \(what)"
        }
    }
}

/// Requests sent, by operation, and retries: what DynamoDB bills and throttles.
final class RequestStatistics: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func count(_ operation: String, retry: Bool) {
        counts.withLock { counts in
            counts[operation, default: 0] += 1
            if retry { counts["retry", default: 0] += 1 }
        }
    }

    func count(_ event: String) {
        counts.withLock { $0[event, default: 0] += 1 }
    }

    /// Keeps the largest `value` seen under `key`.
    func maximum(_ key: String, _ value: Int) {
        counts.withLock { $0[key] = max($0[key] ?? 0, value) }
    }

    var snapshot: [String: Int] { counts.withLock { $0 } }
}

extension Duration {
    /// Whole milliseconds (saturating).
    var milliseconds: Int64 {
        let (seconds, overflow) = components.seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return components.seconds < 0 ? .min : .max }
        return seconds + components.attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return components.seconds < 0 ? .min : .max }
        return seconds + components.attoseconds / 1_000_000_000
    }
}
#endif
