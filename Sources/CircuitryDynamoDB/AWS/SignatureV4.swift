#if DynamoDB
import Crypto
import Foundation

/// AWS Signature Version 4 for one request, over swift-crypto's SHA-256 and HMAC-SHA256.
///
/// The steps are those of AWS's "Create a signed AWS API request"
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html): a canonical request, a string to
/// sign over its hash, a signing key derived from the secret key through the date, region and service, and the
/// `Authorization` header. The tests run it against AWS's published test suite (`aws-sig-v4-test-suite`).
///
/// Paths are given decoded and encoded once here, as for every service but S3; every header given is signed.
package struct SignatureV4: Sendable {
    /// The region in the credential scope, such as `us-east-1`.
    package var region: String
    /// The service in the credential scope: `dynamodb` for the store.
    package var service: String

    /// A header name and value as given; several with one name are joined in their order.
    package typealias Header = (name: String, value: String)

    /// What a request needs to be signed.
    package struct Request: Sendable {
        /// `GET`, `POST`, …
        package var method: String
        /// The decoded path, such as `/` or `/example space/`.
        package var path: String
        /// The decoded query parameters in any order.
        package var query: [(name: String, value: String)]
        /// Every header to sign, `host` and `x-amz-date` included. A value may hold folded lines (`\n`).
        package var headers: [Header]
        /// The body.
        package var body: [UInt8]

        /// Creates a request to sign.
        package init(
            method: String, path: String, query: [(name: String, value: String)] = [], headers: [Header],
            body: [UInt8] = []
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    /// Creates a signer for `service` in `region`.
    package init(region: String, service: String) {
        self.region = region
        self.service = service
    }

    /// The `Authorization` header's value for `request`, signed at `amzDate` (the `x-amz-date` header's value,
    /// `20150830T123600Z`).
    package func authorization(for request: Request, amzDate: String, credentials: AWSCredentials) -> String {
        let signedHeaders = Self.canonicalHeaders(request.headers).map(\.name).joined(separator: ";")
        let date = String(amzDate.prefix(8))
        let signature = self.signature(for: request, amzDate: amzDate, secretKey: credentials.secretAccessKey)
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(date: date)), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// The signature's hex digits.
    package func signature(for request: Request, amzDate: String, secretKey: String) -> String {
        let key = signingKey(secretKey: secretKey, date: String(amzDate.prefix(8)))
        let toSign = stringToSign(for: request, amzDate: amzDate)
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
    }

    /// `AWS4-HMAC-SHA256`, the time, the credential scope and the canonical request's hash, one per line.
    package func stringToSign(for request: Request, amzDate: String) -> String {
        let hash = Self.hex(SHA256.hash(data: Data(Self.canonicalRequest(request).utf8)))
        return "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope(date: String(amzDate.prefix(8))))\n\(hash)"
    }

    /// `20150830/us-east-1/service/aws4_request`.
    package func scope(date: String) -> String {
        "\(date)/\(region)/\(service)/aws4_request"
    }

    /// HMAC chained from `AWS4` + the secret key through the date, the region, the service and `aws4_request`.
    func signingKey(secretKey: String, date: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secretKey)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// The method, the canonical path, query and headers, the signed header names and the body's hash, one per
    /// line.
    package static func canonicalRequest(_ request: Request) -> String {
        let headers = canonicalHeaders(request.headers)
        return [
            request.method,
            canonicalPath(request.path),
            canonicalQuery(request.query),
            headers.map { "\($0.name):\($0.value)\n" }.joined(),
            headers.map(\.name).joined(separator: ";"),
            hex(SHA256.hash(data: Data(request.body))),
        ].joined(separator: "\n")
    }

    /// Lower-case names, sorted; values trimmed, runs of spaces made one, folded lines and repeated headers
    /// joined with commas in their order.
    static func canonicalHeaders(_ headers: [Header]) -> [(name: String, value: String)] {
        var values: [String: [String]] = [:]
        for header in headers {
            let lines = header.value.split(separator: "\n", omittingEmptySubsequences: false).map(collapse)
            values[header.name.lowercased(), default: []].append(lines.joined(separator: ","))
        }
        return values.keys.sorted().map { ($0, values[$0]!.joined(separator: ",")) }
    }

    private static func collapse(_ text: Substring) -> String {
        text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }

    /// The path with `.` and `..` segments resolved and empty segments dropped, each segment percent-encoded.
    static func canonicalPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        let trailing = path.hasSuffix("/") && !segments.isEmpty ? "/" : ""
        return "/" + segments.map { percentEncode(String($0)) }.joined(separator: "/") + trailing
    }

    /// Parameters percent-encoded, sorted by name then value, as `a=1&b=2`.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map {
            (percentEncode($0.name), percentEncode($0.value))
        }
        let sorted = encoded.sorted { (a, b) -> Bool in a.name == b.name ? a.value < b.value : a.name < b.name }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// Every byte but the unreserved characters of RFC 3986 (`A–Z a–z 0–9 - . _ ~`) as `%XX`, upper-case.
    static func percentEncode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                encoded +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true)
                    + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return encoded
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func hex<D: Digest>(_ digest: D) -> String { hex(Array(digest)) }

    static func hex(_ code: HashedAuthenticationCode<SHA256>) -> String { hex(Array(code)) }

    /// `20150830T123600Z` for `date`, in UTC.
    package static func amzDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
#endif
