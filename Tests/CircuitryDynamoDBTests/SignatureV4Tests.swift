#if DynamoDB
import Foundation
import Testing

@testable import CircuitryDynamoDB

/// The signer against AWS's published Signature Version 4 test suite (`Fixtures/aws-sig-v4-test-suite`): each
/// case's request, signed with the suite's credentials, must give the suite's `Authorization` header, and its
/// canonical request and string to sign where the suite gives them.
@Suite struct SignatureV4Tests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/aws-sig-v4-test-suite")

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".req") }.map { String($0.dropLast(4)) }.sorted()
    }()

    static let credentials = AWSCredentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let signer = SignatureV4(region: "us-east-1", service: "service")

    @Test func theSuiteIsThere() {
        // get-vanilla, the form-urlencoded pair, header and query canonicalisation, paths, a session token.
        #expect(Self.cases.count >= 20, "\(Self.cases)")
    }

    @Test(arguments: cases)
    func publishedVector(_ name: String) throws {
        let request = try Self.parse(try Self.fixture(name, "req"))
        let amzDate = try #require(request.headers.first { $0.name.lowercased() == "x-amz-date" }?.value)
        if let expected = try? Self.fixture(name, "creq") {
            #expect(SignatureV4.canonicalRequest(request) == expected)
        }
        if let expected = try? Self.fixture(name, "sts") {
            #expect(Self.signer.stringToSign(for: request, amzDate: amzDate) == expected)
        }
        let authorization = Self.signer.authorization(for: request, amzDate: amzDate, credentials: Self.credentials)
        #expect(authorization == (try Self.fixture(name, "authz")))
    }

    @Test func dynamoDBRequestSignsItsSessionTokenAndTarget() {
        // A request as the store's client builds it: the token and the target are signed headers.
        let request = SignatureV4.Request(
            method: "POST", path: "/",
            headers: [
                ("Content-Type", "application/x-amz-json-1.0"), ("Host", "dynamodb.eu-west-1.amazonaws.com"),
                ("X-Amz-Date", "20260101T000000Z"), ("X-Amz-Target", "DynamoDB_20120810.GetItem"),
                ("X-Amz-Security-Token", "token"),
            ], body: Array("{}".utf8))
        let signer = SignatureV4(region: "eu-west-1", service: "dynamodb")
        let credentials = AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "token")
        let header = signer.authorization(for: request, amzDate: "20260101T000000Z", credentials: credentials)
        #expect(header.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/dynamodb/aws4_request, "))
        #expect(header.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,"))
        #expect(!header.contains("secret"))
        // Any change to what is signed changes the signature.
        var changed = request
        changed.body = Array("{ }".utf8)
        #expect(signer.authorization(for: changed, amzDate: "20260101T000000Z", credentials: credentials) != header)
    }

    @Test func amzDateIsUTC() {
        #expect(SignatureV4.amzDate(Date(timeIntervalSince1970: 1_440_938_160)) == "20150830T123600Z")
    }

    // MARK: The suite's request files

    static func fixture(_ name: String, _ kind: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent("\(name).\(kind)"), encoding: .utf8)
    }

    /// `METHOD URI HTTP/1.1`, header lines (a line that starts with a space continues the previous header), an
    /// empty line, the body. The URI's path and query are as the suite writes them: not percent-encoded.
    static func parse(_ text: String) throws -> SignatureV4.Request {
        let (head, body) =
            text.range(of: "\n\n").map { (String(text[..<$0.lowerBound]), String(text[$0.upperBound...])) }
            ?? (text, "")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: " ")
        guard parts.count >= 3 else { throw ParseError(line: requestLine) }
        let method = String(parts[0])
        // The URI may hold spaces (get-space): everything between the method and the protocol.
        let uri = parts[1..<(parts.count - 1)].joined(separator: " ")
        let (path, queryText) =
            uri.firstIndex(of: "?").map { (String(uri[..<$0]), String(uri[uri.index(after: $0)...])) }
            ?? (uri, "")
        let query = queryText.split(separator: "&").map { pair -> (name: String, value: String) in
            let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(halves[0]), halves.count > 1 ? String(halves[1]) : "")
        }
        var headers: [SignatureV4.Header] = []
        for line in lines {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw ParseError(line: line) }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        return SignatureV4.Request(
            method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
    }

    struct ParseError: Error {
        var line: String
    }
}
#endif
