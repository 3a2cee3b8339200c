#if DynamoDB
import Circuitry
import Foundation

extension DynamoDBCircuitStore {
    /// Which table, where, with which credentials, and the store's bounds. Every process that shares circuits
    /// must name the same table in the same region (and the same ``historyLimit``).
    ///
    /// Most users write a URL: `dynamodb://TABLE?region=eu-west-1` (see ``init(url:environment:)``).
    public struct Configuration: Sendable {
        /// The table's name (3–255 of `A–Z a–z 0–9 _ - .`).
        public var table: String
        /// The AWS region, such as `eu-west-1`. Default: `AWS_REGION`, else `AWS_DEFAULT_REGION`.
        public var region: String
        /// Where requests go. `nil` (the default) is the region's public endpoint,
        /// `https://dynamodb.<region>.amazonaws.com`; set it for a local emulator (`http://127.0.0.1:8000`) or a
        /// VPC endpoint.
        public var endpoint: URL?
        /// Where the credentials come from. Default ``AWSCredentials/Source/standard``: the environment
        /// variables, then the shared credentials file's profile.
        public var credentials: AWSCredentials.Source
        /// The longest one store operation may take in all: the requests, their retries, conflicts with other
        /// processes, and waiting behind this process's other updates of the same circuit. Past it the operation
        /// fails with `CircuitStoreError.Code.busy` or `CircuitStoreError.Code.connectionLost`. Default 2 s.
        public var operationTimeout: Duration
        /// Retries of one request that failed with throttling, a 5xx answer or a connection failure. Default 3.
        public var maximumRetries: Int
        /// How many times an update runs again after another process wrote the circuit between its read and its
        /// conditional write (`ConditionalCheckFailedException`). Past it the update fails with
        /// `CircuitStoreError.Code.busy`. Default 64, so that ``operationTimeout`` is the bound that matters: with 8
        /// processes writing one circuit as fast as they can, an update loses about 7 races in 10, and a bound of 25
        /// failed about one update in 2,500 of a healthy table (0.73^25) — seen in the cross-process tests.
        public var maximumConflictRetries: Int
        /// The first backoff of a retry or a conflict, doubled each time up to 200 ms (a retry) or 50 ms (a conflict),
        /// and jittered. Default 10 ms.
        public var baseBackoff: Duration
        /// How many transitions of each circuit the history keeps. Default 100.
        public var historyLimit: Int
        /// How far apart the clocks of the fleet's hosts may be without a probe lease written by one host being
        /// judged expired early by another: each new lease is written that much longer. Default 1 s.
        public var clockSkewTolerance: Duration
        /// When set, a closed circuit without an override carries a TTL (`ttl`, in seconds since 1970) this long
        /// after its last write, and DynamoDB deletes it when idle that long (within a day or two of the time),
        /// as ``DynamoDBCircuitStore/removeIdle(idleFor:)`` would. Default `nil`: circuits stay until removed.
        public var idleExpiry: Duration?
        /// When set, each history entry carries a TTL this long after its transition, so that the history of
        /// circuits that no longer change goes away too. Default `nil`: only the ``historyLimit`` bounds it.
        public var historyExpiry: Duration?
        /// Whether the first operation (or ``DynamoDBCircuitStore/prepare()``) creates the table when it does not
        /// exist (on-demand capacity, TTL on `ttl`). Default `false`: a missing table is an error, for teams that
        /// provision tables with Terraform or CloudFormation.
        public var createTableIfMissing: Bool

        /// Creates a configuration for `table` in `region`.
        public init(table: String, region: String, endpoint: URL? = nil) {
            self.table = table
            self.region = region
            self.endpoint = endpoint
            self.credentials = .standard
            self.operationTimeout = .seconds(2)
            self.maximumRetries = 3
            self.maximumConflictRetries = 64
            self.baseBackoff = .milliseconds(10)
            self.historyLimit = 100
            self.clockSkewTolerance = .seconds(1)
            self.idleExpiry = nil
            self.historyExpiry = nil
            self.createTableIfMissing = false
        }

        /// Whether `text` is meant as a DynamoDB URL: it starts with `dynamodb://`, in any case.
        public static func isURL(_ text: String) -> Bool {
            text.prefix(11).lowercased() == "dynamodb://"
        }

        /// Reads `dynamodb://TABLE[?parameters]`.
        ///
        /// Parameters: `region` (default `AWS_REGION`, else `AWS_DEFAULT_REGION` from `environment`),
        /// `endpoint` (a URL, percent-encoded or not), `profile` (a profile of the shared credentials file),
        /// `create_table` (`true` or `false`), `operation_timeout_ms` and `clock_skew_ms` (``clockSkewTolerance``;
        /// 0 when every process runs on one host). Anything else is refused, so that a misspelt parameter is not
        /// silently ignored. Credentials never go in the URL.
        public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment)
            throws(ConfigurationError)
        {
            guard Self.isURL(url), let components = URLComponents(string: url) else {
                throw ConfigurationError(
                    setting: "url", message: "expected dynamodb://TABLE?region=REGION, got \(url.debugDescription)")
            }
            guard let table = components.host, !table.isEmpty else {
                throw ConfigurationError(setting: "url", message: "the URL names no table: \(url.debugDescription)")
            }
            guard components.path.isEmpty || components.path == "/", components.user == nil else {
                throw ConfigurationError(
                    setting: "url", message: "expected dynamodb://TABLE?region=REGION, got \(url.debugDescription)")
            }
            var region = environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 }
            region = region ?? environment["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 }
            var endpoint: URL?
            var credentials = AWSCredentials.Source.standard
            var createTable = false
            var timeout: Duration?
            var skew: Duration?
            for item in components.queryItems ?? [] {
                let value = item.value ?? ""
                switch item.name {
                case "region":
                    region = value
                case "endpoint":
                    guard let parsed = URL(string: value) else {
                        throw ConfigurationError.invalid("endpoint", value.debugDescription, expected: "a URL")
                    }
                    endpoint = parsed
                case "profile":
                    credentials = .profile(value)
                case "create_table":
                    guard let flag = Bool(value) else {
                        throw ConfigurationError.invalid("create_table", value, expected: "true or false")
                    }
                    createTable = flag
                case "operation_timeout_ms":
                    guard let milliseconds = Int(value), milliseconds > 0 else {
                        throw ConfigurationError.invalid(
                            "operation_timeout_ms", value, expected: "a number of milliseconds")
                    }
                    timeout = .milliseconds(milliseconds)
                case "clock_skew_ms":
                    guard let milliseconds = Int(value), milliseconds >= 0 else {
                        throw ConfigurationError.invalid(
                            "clock_skew_ms", value, expected: "a number of milliseconds")
                    }
                    skew = .milliseconds(milliseconds)
                default:
                    throw ConfigurationError(
                        setting: "url", message: "unknown DynamoDB parameter \(item.name.debugDescription)")
                }
            }
            guard let region else {
                throw ConfigurationError(
                    setting: "region", message: "no region: add ?region=… to the URL, or set AWS_REGION")
            }
            self.init(table: table, region: region, endpoint: endpoint)
            self.credentials = credentials
            self.createTableIfMissing = createTable
            if let timeout { self.operationTimeout = timeout }
            if let skew { self.clockSkewTolerance = skew }
            try validate()
        }

        /// The endpoint requests go to: ``endpoint``, or the region's public one.
        public var resolvedEndpoint: URL {
            if let endpoint { return endpoint }
            let domain = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
            return URL(string: "https://dynamodb.\(region).\(domain)")!
        }

        /// Whether ``endpoint`` is on a loopback address: a local emulator, not AWS.
        var isLocalEmulator: Bool {
            guard let host = endpoint?.host?.lowercased() else { return false }
            return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
        }

        /// `dynamodb://TABLE?region=REGION[&endpoint=URL]`: for logs and errors.
        public var location: String {
            var text = "dynamodb://\(table)?region=\(region)"
            if let endpoint { text += "&endpoint=\(endpoint.absoluteString)" }
            return text
        }

        /// Throws a `ConfigurationError` for a setting out of range or a name DynamoDB would refuse.
        public func validate() throws(ConfigurationError) {
            let tableCharacters = { (c: Unicode.Scalar) in
                ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_"
                    || c == "-" || c == "."
            }
            guard (3...255).contains(table.unicodeScalars.count), table.unicodeScalars.allSatisfy(tableCharacters)
            else {
                throw ConfigurationError.invalid(
                    "table", table.debugDescription, expected: "3 to 255 of A-Z a-z 0-9 _ - .")
            }
            let regionCharacters = { (c: Unicode.Scalar) in
                ("a"..."z").contains(c) || ("0"..."9").contains(c) || c == "-"
            }
            guard !region.isEmpty, region.unicodeScalars.allSatisfy(regionCharacters) else {
                throw ConfigurationError.invalid(
                    "region", region.debugDescription, expected: "a name like eu-west-1")
            }
            if let endpoint {
                guard let scheme = endpoint.scheme?.lowercased(), scheme == "http" || scheme == "https",
                    let host = endpoint.host, !host.isEmpty, endpoint.path.isEmpty || endpoint.path == "/",
                    endpoint.query == nil
                else {
                    throw ConfigurationError.invalid(
                        "endpoint", endpoint.absoluteString.debugDescription,
                        expected: "http(s)://host[:port] without a path or query")
                }
            }
            guard operationTimeout > .zero, baseBackoff > .zero else {
                throw ConfigurationError(
                    setting: "timeouts", message: "operationTimeout and baseBackoff must be positive")
            }
            guard maximumRetries >= 0, maximumConflictRetries >= 0 else {
                throw ConfigurationError(
                    setting: "retries", message: "maximumRetries and maximumConflictRetries must not be negative")
            }
            guard historyLimit >= 1 else {
                throw ConfigurationError.invalid("historyLimit", "\(historyLimit)", expected: "at least 1")
            }
            guard clockSkewTolerance >= .zero else {
                throw ConfigurationError.invalid(
                    "clockSkewTolerance", "\(clockSkewTolerance)", expected: "zero or more")
            }
            for (name, value) in [("idleExpiry", idleExpiry), ("historyExpiry", historyExpiry)] {
                if let value, value < .seconds(1) {
                    throw ConfigurationError.invalid(name, "\(value)", expected: "at least 1 second, or nil")
                }
            }
        }
    }
}

extension ConfigurationError {
    static func invalid(_ setting: String, _ value: String, expected: String) -> ConfigurationError {
        ConfigurationError(setting: setting, message: "\(setting) is \(value); expected \(expected)")
    }
}
#endif
