#if Dashboard
import CircuitryCLITestSupport
import Foundation
import Testing

/// A JSON value as text with sorted keys, to compare decoded values.
func canonical(_ value: Any?) -> String {
    let data = try? JSONSerialization.data(withJSONObject: [value ?? NSNull()], options: [.sortedKeys])
    return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(String(describing: value))"
}

/// `circuitry serve`'s JSON API from outside: the built binary on a free loopback port, a real SQLite file, and
/// `circuitry` subprocesses for what other processes do.
@Suite("serve: the JSON API")
struct APITests {
    @Test("GET /api/circuits gives list --json's objects, /api/circuits/NAME show --json's")
    func readsAsTheCommand() async throws {
        let harness = try CLIHarness()
        try await harness.create("billing", "send-email/acme")
        let tripped = try await harness.run(["trip", "send-email/acme", "--reason", "smtp down"] + harness.db)
        #expect(tripped.status == 0, "\(tripped)")
        let served = try await ServedDashboard(harness)

        let listed = try await served.jsonArray("/api/circuits")
        let fromCommand = try jsonLines(try await harness.run(["list", "--json"] + harness.db).stdout)
        #expect(listed.map { $0["name"] as? String } == ["billing", "send-email/acme"])
        #expect(listed.map { Set($0.keys) } == fromCommand.map { Set($0.keys) })
        for (served, listed) in zip(listed, fromCommand) {
            // Everything but the time of the read is the same.
            for key in listed.keys where key != "read_at" && key != "next" {
                #expect(canonical(served[key]) == canonical(listed[key]), "\(key)")
            }
        }
        #expect(listed[1]["state"] as? String == "open")
        #expect(listed[1]["why"] as? String == "forced open: smtp down")

        // A name with a slash, as a path and percent-encoded.
        for path in ["/api/circuits/send-email/acme", "/api/circuits/send-email%2Facme"] {
            let shown = try await served.request("GET", path)
            #expect(shown.status == 200, "\(shown)")
            let fromShow = try await harness.circuit("send-email/acme")
            #expect(Set(shown.json.keys) == Set(fromShow.keys))
            #expect((shown.json["history"] as? [[String: Any]])?.last?["reason"] as? String == "forced open: smtp down")
        }
        try await served.stop()
    }

    @Test("a missing circuit is 404 with the command's message; a bad name 400; an unknown path 404")
    func readErrors() async throws {
        let harness = try CLIHarness()
        try await harness.create("billing")
        let served = try await ServedDashboard(harness)

        let missing = try await served.request("GET", "/api/circuits/biling")
        #expect(missing.status == 404, "\(missing)")
        #expect(missing.json["error"] as? String == "no-such-circuit")
        let fromCommand = try await harness.run(["show", "biling"] + harness.db)
        #expect(fromCommand.status == 66)
        #expect("circuitry: " + (missing.json["message"] as? String ?? "") + "\n" == fromCommand.stderr)
        #expect(missing.headers["content-type"]?.hasPrefix("application/json") == true)

        let tooLong = try await served.request("GET", "/api/circuits/" + String(repeating: "x", count: 600))
        #expect(tooLong.status == 400, "\(tooLong)")
        #expect(tooLong.json["error"] as? String == "bad-request")

        let control = try await served.request("GET", "/api/circuits/a%0Ab")
        #expect(control.status == 400, "\(control)")
        #expect((control.json["message"] as? String)?.contains("control characters") == true, "\(control)")

        let badEncoding = try await served.request("GET", "/api/circuits/%FF")
        #expect(badEncoding.status == 400, "\(badEncoding)")

        let nowhere = try await served.request("GET", "/api/nothing")
        #expect(nowhere.status == 404, "\(nowhere)")
        try await served.stop()
    }

    @Test("POST trip, close and reset change the circuit as the subcommands do")
    func operatorChanges() async throws {
        let harness = try CLIHarness()
        try await harness.create("send-email/acme")
        let served = try await ServedDashboard(harness)

        let tripped = try await served.request(
            "POST", "/api/circuits/send-email/acme/trip", body: #"{"reason": "db migration", "for": "1h30m"}"#)
        #expect(tripped.status == 200, "\(tripped)")
        #expect((tripped.json["message"] as? String)?.hasSuffix("(for 1h30m)") == true, "\(tripped)")
        var circuit = try await harness.circuit("send-email/acme")
        #expect(circuit["override"] as? String == "forced-open")
        #expect(circuit["override_reason"] as? String == "db migration")
        #expect(circuit["state"] as? String == "open")

        let closed = try await served.request(
            "POST", "/api/circuits/send-email%2Facme/close", body: #"{"reason": "upstream is back"}"#)
        #expect(closed.status == 200, "\(closed)")
        circuit = try await harness.circuit("send-email/acme")
        #expect(circuit["override"] as? String == "forced-closed")

        let reset = try await served.request("POST", "/api/circuits/send-email/acme/reset")
        #expect(reset.status == 200, "\(reset)")
        circuit = try await harness.circuit("send-email/acme")
        #expect(circuit["override"] is NSNull)
        let history = try jsonLines(try await harness.run(["history", "--json"] + harness.db).stdout)
        // The reset of a closed circuit changes no state: the history has no transition for it.
        #expect(
            history.map { $0["reason"] as? String } == ["forced open: db migration", "forced closed: upstream is back"])
        #expect(history.allSatisfy { ($0["actor"] as? String)?.hasPrefix("circuitry pid") == true })

        // --create, as "create": true.
        let refused = try await served.request("POST", "/api/circuits/new-one/trip", body: "{}")
        #expect(refused.status == 404, "\(refused)")
        let fromCommand = try await harness.run(["trip", "new-one"] + harness.db)
        #expect("circuitry: " + (refused.json["message"] as? String ?? "") + "\n" == fromCommand.stderr)
        let created = try await served.request("POST", "/api/circuits/new-one/trip", body: #"{"create": true}"#)
        #expect(created.status == 200, "\(created)")
        try await served.stop()
    }

    @Test(
        "bad input is a 4xx JSON error and writes nothing",
        arguments: [
            (
                "/api/circuits/x/trip", #"{"for": "5x"}"#, "application/json", 400,
                "The value '5x' is invalid for \"for\""
            ),
            ("/api/circuits/x/trip", #"{"for": "0.5ms"}"#, "application/json", 400, "whole number of milliseconds"),
            ("/api/circuits/x/trip", #"{"reson": "typo"}"#, "application/json", 400, "unknown key \"reson\""),
            ("/api/circuits/x/trip", #"{"reason": 5}"#, "application/json", 400, "\"reason\" must be a string"),
            (
                "/api/circuits/x/trip", #"{"create": "yes"}"#, "application/json", 400,
                "\"create\" must be true or false"
            ),
            ("/api/circuits/x/trip", #"["reason"]"#, "application/json", 400, "must be a JSON object"),
            ("/api/circuits/x/trip", #"{"reason": "#, "application/json", 400, "must be a JSON object"),
            ("/api/circuits/x/trip", "reason=x", "application/x-www-form-urlencoded", 415, "must be JSON"),
            ("/api/circuits/x/close", #"{"for": "1m"}"#, "application/json", 400, "\"for\" is for trip only"),
            ("/api/circuits/x/reset", #"{"reason": "why"}"#, "application/json", 400, "reset takes neither"),
            ("/api/circuits/x/forget", "{}", "application/json", 404, "POST /api/circuits/NAME/trip"),
            ("/api/circuits/trip", "{}", "application/json", 404, "POST /api/circuits/NAME/trip"),
        ])
    func badInput(path: String, body: String, contentType: String, status: Int, message: String) async throws {
        let harness = try CLIHarness()
        try await harness.create("x")
        let served = try await ServedDashboard(harness)
        let response = try await served.request("POST", path, headers: ["Content-Type": contentType], body: body)
        #expect(response.status == status, "\(response)")
        #expect((response.json["message"] as? String)?.contains(message) == true, "\(response)")
        #expect(response.json["error"] is String, "\(response)")
        let history = try await harness.run(["history"] + harness.db)
        #expect(history.stdout == "", "nothing was written: \(history)")
        try await served.stop()
    }

    @Test("a body over 64 KiB is refused with 413")
    func tooLarge() async throws {
        let harness = try CLIHarness()
        try await harness.create("x")
        let served = try await ServedDashboard(harness)
        let reason = String(repeating: "a", count: 70_000)
        let response = try await served.request("POST", "/api/circuits/x/trip", body: #"{"reason": "\#(reason)"}"#)
        #expect(response.status == 413, "\(response)")
        try await served.stop()
    }

    @Test("serve refuses a database that does not exist, as every reading subcommand does")
    func missingDatabase() async throws {
        let harness = try CLIHarness()
        let outcome = try await harness.run(["serve", "--listen", "127.0.0.1:0"] + harness.db)
        expectStorageError(outcome, location: harness.databasePath, cause: "there is no database file")
        #expect(!FileManager.default.fileExists(atPath: harness.databasePath))
    }

    @Test("a bad --listen is a usage error", arguments: ["8080", "127.0.0.1", "127.0.0.1:99999", "::1:80", ":80"])
    func badListen(listen: String) async throws {
        let harness = try CLIHarness()
        try await harness.create()
        let outcome = try await harness.run(["serve", "--listen", listen] + harness.db)
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains("--listen \"\(listen)\""), "\(outcome)")
    }

    @Test("SIGTERM ends the server at once, with an event stream open, with status 0")
    func stopsWithAnOpenStream() async throws {
        let harness = try CLIHarness()
        try await harness.create("x")
        let served = try await ServedDashboard(harness)
        let stream = try served.connect()
        try stream.send("GET", "/api/events", hostHeader: "127.0.0.1")
        #expect(try await stream.readHead().status == 200)
        #expect(try await stream.nextEvent(timeout: .seconds(10))?.event == ":")
        let started = ContinuousClock.now
        let outcome = try await served.stop()
        #expect(outcome.status == 0, "\(outcome)")
        // The keep-alive is 15 s: ending within it shows the stream did not hold the shutdown.
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try await stream.nextEvent(timeout: .seconds(5)) == nil, "the stream ended")
    }
}
#endif
