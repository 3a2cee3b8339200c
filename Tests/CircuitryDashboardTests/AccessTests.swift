#if Dashboard
import CircuitryCLITestSupport
import Foundation
import Testing

/// Who may write through `circuitry serve`. Loopback is the interface, not the peer: a server bound to an address of
/// 127.0.0.0/8 or ::1 can only be reached from this host; one bound to 0.0.0.0 (every interface) or any other address
/// can be reached from others, even when a test connects to it through 127.0.0.1.
@Suite("serve: tokens, loopback and read-only")
struct AccessTests {
    private let trip = (path: "/api/circuits/x/trip", body: #"{"reason": "test"}"#)

    @Test("beyond loopback without a token or --read-only, serve refuses to start", arguments: ["0.0.0.0:0"])
    func refusesWithoutToken(listen: String) async throws {
        let harness = try CLIHarness()
        try await harness.create("x")
        let outcome = try await harness.run(["serve", "--listen", listen] + harness.db)
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderr.contains("beyond loopback, writes need a token"), "\(outcome)")
    }

    @Test("beyond loopback with a token: reads are open, writes need the token, which is never printed")
    func tokenRequired() async throws {
        let harness = try CLIHarness()
        try await harness.create("x")
        let token = "s3cret-\(UUID().uuidString)"
        let served = try await ServedDashboard(
            harness, listen: "0.0.0.0:0", arguments: ["-vv"], environment: ["CIRCUITRY_TOKEN": token])

        #expect(try await served.request("GET", "/api/circuits/x").status == 200)
        let without = try await served.request("POST", trip.path, body: trip.body)
        #expect(without.status == 401, "\(without)")
        #expect(without.headers["www-authenticate"] == "Bearer")
        #expect(without.json["error"] as? String == "unauthorized")
        for wrong in ["Bearer wrong", "Bearer \(token)x", "Bearer " + token.dropLast(), "Basic \(token)", token] {
            let refused = try await served.request(
                "POST", trip.path, headers: ["Authorization": wrong], body: trip.body)
            #expect(refused.status == 401, "\(wrong): \(refused)")
        }
        #expect(try await harness.run(["history"] + harness.db).stdout == "", "nothing was written")
        let allowed = try await served.request(
            "POST", trip.path, headers: ["Authorization": "Bearer \(token)"], body: trip.body)
        #expect(allowed.status == 200, "\(allowed)")
        #expect(try await harness.circuit("x")["state"] as? String == "open")

        let outcome = try await served.stop()
        #expect(!outcome.stdout.contains(token) && !outcome.stderr.contains(token), "\(outcome)")
        // Nor in another form: its bytes, as a reflection of a value that holds them would print them.
        let bytes = token.utf8.map(String.init).joined(separator: ", ")
        #expect(!outcome.stderr.contains(bytes), "\(outcome)")
        #expect(outcome.stderr.contains("operator change over HTTP"), "logs at -vv: \(outcome)")
    }

    @Test("--token-file and --token give the token too; a token is required wherever one is given")
    func tokenSources() async throws {
        let harness = try CLIHarness()
        try await harness.create("x")
        let file = harness.path("token")
        try "from-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        for (arguments, token) in [(["--token-file", file], "from-file"), (["--token", "from-flag"], "from-flag")] {
            let served = try await ServedDashboard(harness, arguments: arguments)
            let without = try await served.request("POST", trip.path, body: trip.body)
            #expect(without.status == 401, "\(arguments): \(without)")
            let with = try await served.request(
                "POST", trip.path, headers: ["Authorization": "Bearer \(token)"], body: trip.body)
            #expect(with.status == 200, "\(arguments): \(with)")
            try await served.stop()
        }
        let empty = harness.path("empty")
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let refused = try await harness.run(["serve", "--listen", "127.0.0.1:0", "--token-file", empty] + harness.db)
        #expect(refused.status == 64 && refused.stderr.contains("the token is empty"), "\(refused)")
    }

    @Test("--read-only starts beyond loopback and refuses every write with 403")
    func readOnly() async throws {
        let harness = try CLIHarness()
        try await harness.create("x")
        let served = try await ServedDashboard(harness, listen: "0.0.0.0:0", arguments: ["--read-only"])
        #expect(try await served.jsonArray("/api/circuits").count == 1)
        for action in ["trip", "close", "reset"] {
            let refused = try await served.request("POST", "/api/circuits/x/\(action)", body: "{}")
            #expect(refused.status == 403, "\(refused)")
            #expect(refused.json["error"] as? String == "read-only")
        }
        #expect(try await harness.run(["history"] + harness.db).stdout == "", "nothing was written")
        try await served.stop()
    }

    @Test(
        "on loopback (all of 127.0.0.0/8) without a token, writes need a loopback Host",
        arguments: ["127.0.0.1", "127.0.0.2"])
    func loopbackHost(address: String) async throws {
        let harness = try CLIHarness()
        try await harness.create("x")
        let served = try await ServedDashboard(harness, listen: "\(address):0")
        // A page of another site whose name resolves to 127.0.0.1 (DNS rebinding) sends its own name as Host.
        for host in ["attacker.example", "attacker.example:\(served.port)", "127.0.0.1.attacker.example"] {
            let refused = try await served.request("POST", trip.path, body: trip.body, hostHeader: host)
            #expect(refused.status == 403, "\(host): \(refused)")
            #expect(refused.json["error"] as? String == "forbidden-host")
        }
        #expect(try await harness.run(["history"] + harness.db).stdout == "", "nothing was written")
        for host in ["\(address):\(served.port)", "localhost:\(served.port)", "[::1]:\(served.port)"] {
            let allowed = try await served.request("POST", "/api/circuits/x/reset", body: "{}", hostHeader: host)
            #expect(allowed.status == 200, "\(host): \(allowed)")
        }
        try await served.stop()
    }
}
#endif
