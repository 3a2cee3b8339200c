#if Dashboard
import CircuitryCLITestSupport
import Foundation
import Testing

/// `GET /api/events`: every transition, whatever process commits it, once, in order, resumable.
@Suite("serve: the event stream")
struct EventStreamTests {
    /// Opens `/api/events` with these headers and reads past the first comment.
    private func open(_ served: ServedDashboard, path: String = "/api/events", headers: [String: String] = [:])
        async throws -> HTTPConnection
    {
        let stream = try served.connect()
        try stream.send("GET", path, hostHeader: "127.0.0.1:\(served.port)", headers: headers)
        let head = try await stream.readHead()
        #expect(head.status == 200)
        #expect(head.headers["content-type"] == "text/event-stream")
        let connected = try await stream.nextEvent(timeout: .seconds(10))
        #expect(
            connected?.event == ":" && connected?.data.hasPrefix("connected after") == true,
            "\(String(describing: connected))")
        return stream
    }

    @Test("a transition committed by another process arrives within 1 s, with its history id")
    func deliversAnotherProcesssTransition() async throws {
        let harness = try CLIHarness()
        try await harness.create("send-email/acme")
        let served = try await ServedDashboard(harness)
        let stream = try await open(served)

        let tripped = try await harness.run(["trip", "send-email/acme", "--reason", "smtp down"] + harness.db)
        #expect(tripped.status == 0, "\(tripped)")
        // The trip committed before its process exited: from there, at most 1 s.
        let committed = ContinuousClock.now
        let event = try #require(try await stream.nextEvent(timeout: .seconds(1)))
        let latency = ContinuousClock.now - committed
        #expect(latency < .seconds(1))
        #expect(event.event == "transition")
        let transition = try jsonObject(event.data)
        #expect(transition["circuit"] as? String == "send-email/acme")
        #expect(transition["to_state"] as? String == "open")
        #expect(transition["reason"] as? String == "forced open: smtp down")
        let history = try jsonLines(try await harness.run(["history", "--json"] + harness.db).stdout)
        #expect(event.id == "\(history.last?["id"] as? Int ?? -1)")
        #expect(Set(transition.keys) == Set(history.last?.keys ?? [:].keys))
        try await served.stop()
    }

    @Test("after a reconnect with Last-Event-ID, the stream resumes without gaps or repeats")
    func resumes() async throws {
        let harness = try CLIHarness()
        try await harness.create("a", "b")
        let served = try await ServedDashboard(harness)
        var stream = try await open(served)
        var received: [Int] = []
        for name in ["a", "b"] {
            #expect(try await harness.run(["trip", name] + harness.db).status == 0)
            let event = try #require(try await stream.nextEvent(timeout: .seconds(5)))
            received.append(Int(event.id ?? "") ?? -1)
        }
        // Disconnected while three more commit.
        stream = try served.connect()
        for arguments in [["close", "a"], ["reset", "b"], ["trip", "b", "--for", "1m"]] {
            #expect(try await harness.run(arguments + harness.db).status == 0)
        }
        stream = try await open(served, headers: ["Last-Event-ID": "\(received.last!)"])
        while received.count < 5, let event = try await stream.nextEvent(timeout: .seconds(5)) {
            if event.event == "transition" { received.append(Int(event.id ?? "") ?? -1) }
        }
        let history = try jsonLines(try await harness.run(["history", "--json"] + harness.db).stdout)
        #expect(received == history.map { $0["id"] as? Int ?? -2 })
        // Nothing more: no repeat follows.
        let extra = try await stream.nextEvent(timeout: .milliseconds(600))
        #expect(extra == nil || extra?.event == ":", "\(String(describing: extra))")

        // ?after= does the same for clients that cannot set the header; ?circuit= keeps one circuit's.
        stream = try await open(served, path: "/api/events?after=0&circuit=a")
        var ofA: [String] = []
        while ofA.count < 2, let event = try await stream.nextEvent(timeout: .seconds(5)) {
            if event.event == "transition" { ofA.append((try jsonObject(event.data))["circuit"] as? String ?? "") }
        }
        #expect(ofA == ["a", "a"])
        try await served.stop()
    }

    @Test("an idle stream gets keep-alive comments")
    func keepAlive() async throws {
        let harness = try CLIHarness()
        try await harness.create()
        let served = try await ServedDashboard(harness, arguments: ["--keep-alive", "200ms"])
        let stream = try await open(served)
        let comment = try await stream.nextEvent(timeout: .seconds(5))
        #expect(comment == HTTPConnection.Event(id: nil, event: ":", data: "keep-alive"))
        try await served.stop()
    }

    @Test("a bad Last-Event-ID or circuit is a 400", arguments: ["x", "-1", "1.5"])
    func badLastEventID(value: String) async throws {
        let harness = try CLIHarness()
        try await harness.create()
        let served = try await ServedDashboard(harness)
        let response = try await served.request("GET", "/api/events", headers: ["Last-Event-ID": value])
        #expect(response.status == 400, "\(response)")
        #expect((response.json["message"] as? String)?.contains("Last-Event-ID") == true, "\(response)")
        let badCircuit = try await served.request("GET", "/api/events?circuit=")
        #expect(badCircuit.status == 400, "\(badCircuit)")
        try await served.stop()
    }
}
#endif
