#if Dashboard
import CircuitryCLITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A running `circuitry serve` on a free port, started by a test and stopped with SIGTERM when the test is done.
final class ServedDashboard {
    let harness: CLIHarness
    let launched: CLIHarness.Launched
    /// The address it listens on, as it printed it.
    let host: String
    let port: Int

    /// Starts `circuitry serve --db <harness's database> --listen <listen> <arguments>` and waits until it prints
    /// where it listens.
    init(
        _ harness: CLIHarness, listen: String = "127.0.0.1:0", arguments: [String] = [],
        environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        self.harness = harness
        launched = try harness.launch(
            ["serve", "--listen", listen] + harness.db + arguments, environment: environment)
        let deadline = ContinuousClock.now + .seconds(60)
        var address: (String, Int)?
        while address == nil, ContinuousClock.now < deadline, launched.process.isRunning {
            if let match = launched.stdoutSoFar.firstMatch(of: #/listening on http://\[?([^\]\s]+?)\]?:(\d+)\n/#) {
                address = (String(match.1), Int(match.2)!)
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        guard let address else {
            kill(launched.pid, SIGKILL)
            let outcome = try await launched.wait()
            throw HTTPClientError("circuitry serve did not start: \(outcome)")
        }
        (host, port) = address
    }

    /// The address to connect to: the one it listens on, or 127.0.0.1 for every interface.
    var connectHost: String { host == "0.0.0.0" ? "127.0.0.1" : host }

    /// A new connection to the server.
    func connect() throws -> HTTPConnection { try HTTPConnection(host: connectHost, port: port) }

    /// One request on a connection of its own; `Host` is the address connected to unless `hostHeader` says otherwise.
    func request(
        _ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil,
        hostHeader: String? = nil
    ) async throws -> HTTPConnection.Response {
        let connection = try connect()
        var headers = headers
        headers["Connection"] = "close"
        if body != nil, headers["Content-Type"] == nil { headers["Content-Type"] = "application/json" }
        try connection.send(
            method, path, hostHeader: hostHeader ?? "\(connectHost):\(port)", headers: headers, body: body)
        return try await connection.readResponse()
    }

    /// `GET path` as a JSON array of objects.
    func jsonArray(_ path: String) async throws -> [[String: Any]] {
        let response = try await request("GET", path)
        #expect(response.status == 200, "\(response)")
        return (try JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [[String: Any]] ?? []
    }

    /// Stops it with SIGTERM; returns how it ended.
    @discardableResult
    func stop(timeout: Duration = .seconds(10)) async throws -> CLIHarness.Outcome {
        kill(launched.pid, SIGTERM)
        return try await launched.wait(timeout: timeout)
    }

    deinit {
        if launched.process.isRunning {
            kill(launched.pid, SIGKILL)
            launched.process.waitUntilExit()
        }
    }
}
#endif
