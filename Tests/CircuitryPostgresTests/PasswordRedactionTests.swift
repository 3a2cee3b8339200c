#if Postgres

import Circuitry
import CircuitryCLITestSupport
import CircuitryPostgres
import CircuitryPostgresTestSupport
import Foundation
import Testing

/// No error, log line or description of a configuration shows a PostgreSQL password, whatever the URL's shape.
@Suite struct PasswordRedactionTests {
    static let shapes = PasswordShape.generate(count: 2000)

    @Test func theRuleHidesThePasswordOfEveryShape() {
        var leaks: [String] = []
        for shape in Self.shapes where PasswordRedaction.redacting(shape.text).contains(shape.secret) {
            leaks.append("\(shape) → \(PasswordRedaction.redacting(shape.text))")
        }
        #expect(leaks.isEmpty, "\(leaks.count) of \(Self.shapes.count) leak, e.g. \(leaks.prefix(5))")
    }

    /// Any text at all, from the characters the rule looks at: nothing traps, and the text only ever shrinks to
    /// masks, never grows otherwise.
    @Test func anyTextIsRedactedWithoutTrapping() {
        var random = SplitMix64(seed: 0xF022)
        let pieces = [
            "@", ":", "/", "\\", "?", "#", "&", "[", "]", " ", "password=", "PASSWORD=", "postgres:", "a", "é", "1",
        ]
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 0...14, using: &random)).map { _ in random.pick(pieces) }.joined()
            let shown = PasswordRedaction.redacting(text)
            #expect(shown.count <= text.count + PasswordRedaction.mask.count * 2, "\(text.debugDescription)")
            _ = PasswordRedaction.hiddenParts(of: text)
        }
    }

    @Test(arguments: [
        ("postgres://alice:s3cr3t@db/jobs", "postgres://alice:***@db/jobs"),
        ("postgres:/alice:s3cr3t@db/jobs", "postgres:/alice:***@db/jobs"),
        ("postgres//alice:s3cr3t@db/jobs", "postgres//alice:***@db/jobs"),
        ("postgres://alice:p@ss@db/jobs", "postgres://alice:***@db/jobs"),
        ("postgres://alice:s3cr3t/jobs", "postgres://alice:***/jobs"),
        (
            "postgres://alice@db/jobs?sslmode=disable&password=s3cr3t",
            "postgres://alice@db/jobs?sslmode=disable&password=***"
        ),
        ("postgres://alice@db:5432/jobs", "postgres://alice@db:5432/jobs"),
        ("postgres://db:5432/jobs", "postgres://db:5432/jobs"),
        ("postgres://[::1]:5432/jobs", "postgres://[::1]:5432/jobs"),
        ("/var/lib/jobs/breakers.sqlite", "/var/lib/jobs/breakers.sqlite"),
    ])
    func examples(text: String, shown: String) {
        #expect(PasswordRedaction.redacting(text) == shown)
    }

    @Test func configurationErrorsAndDescriptionsNeverShowThePassword() {
        var leaks: [String] = []
        var refused = 0
        for shape in Self.shapes {
            do {
                let configuration = try PostgresCircuitStore.Configuration(url: shape.text)
                var dumped = ""
                dump(configuration, to: &dumped)
                for shown in [configuration.location, "\(configuration)", String(reflecting: configuration), dumped]
                where shown.contains(shape.secret) {
                    leaks.append("\(shape) → \(shown)")
                }
            } catch {
                refused += 1
                if "\(error)".contains(shape.secret) { leaks.append("\(shape) → \(error)") }
            }
        }
        #expect(leaks.isEmpty, "\(leaks.count) leak, e.g. \(leaks.prefix(5))")
        #expect(refused > Self.shapes.count / 2, "most shapes are malformed: \(refused) refused")
    }

    /// The store's errors and log lines name the server by ``PostgresCircuitStore/Configuration/location``; a
    /// server that cannot be reached gives the connection's own error, which must not carry the password either.
    @Test func errorsOfAnUnreachableServerNeverShowThePassword() async throws {
        let port = try await TestPostgresServer.shared().port
        let url = "postgres://u:pw-S3crUNREACH@127.0.0.1:\(port == 65535 ? 1 : port + 1)/db?connect_timeout=1"
        var configuration = try PostgresCircuitStore.Configuration(url: url)
        configuration.operationTimeout = .milliseconds(500)
        let recorder = LogRecorder()
        let error = await #expect(throws: CircuitStoreError.self) {
            try await PostgresCircuitStore.withStore(configuration: configuration, logger: recorder.logger) { _ in }
        }
        #expect(error.map { !"\($0)".contains("S3crUNREACH") } ?? false, "\(String(describing: error))")
        #expect(!recorder.text.isEmpty, "the store logged the failure")
        #expect(!recorder.text.contains("S3crUNREACH"), "\(recorder.text)")
    }
}

#endif
