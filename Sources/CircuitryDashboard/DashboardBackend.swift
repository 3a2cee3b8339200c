#if Dashboard
import Circuitry

/// What `circuitry serve` serves, as the command computes it: the server routes requests, checks who may write,
/// streams events and formats metrics, while what a circuit looks like in JSON and how an operator's change is checked
/// and made stay the command's, in one place each (the same as `list --json`, `show --json`, `trip`, `close` and
/// `reset`).
package struct DashboardBackend: Sendable {
    /// The factory whose store the server reads, for the transition feed.
    package var factory: BreakerFactory
    /// Every circuit, in name order, as `list --json` prints it.
    package var circuits: @Sendable () async throws -> [DashboardCircuit]
    /// One circuit and its recent history, as `show --json` prints it.
    package var circuit: @Sendable (_ name: String) async throws -> String
    /// Checks and makes an operator's change, as the command does; returns what the command prints.
    package var change: @Sendable (DashboardChange) async throws -> String
    /// One transition, as `history --json` prints it.
    package var transitionJSON: @Sendable (HistoryEntry) -> String

    /// A backend from its parts.
    package init(
        factory: BreakerFactory, circuits: @escaping @Sendable () async throws -> [DashboardCircuit],
        circuit: @escaping @Sendable (_ name: String) async throws -> String,
        change: @escaping @Sendable (DashboardChange) async throws -> String,
        transitionJSON: @escaping @Sendable (HistoryEntry) -> String
    ) {
        self.factory = factory
        self.circuits = circuits
        self.circuit = circuit
        self.change = change
        self.transitionJSON = transitionJSON
    }
}

/// One circuit of the list: its name and state (for the metrics) and its JSON object.
package struct DashboardCircuit: Sendable {
    /// The circuit's name.
    package var name: String
    /// Its state as of the read.
    package var state: CircuitState
    /// Its JSON object, one line.
    package var json: String

    /// A circuit of the list.
    package init(name: String, state: CircuitState, json: String) {
        self.name = name
        self.state = state
        self.json = json
    }
}

/// An operator's change as a POST request asks for it, before the command's checks: the request's path and body.
package struct DashboardChange: Sendable, Equatable {
    /// `trip`, `close` or `reset`: the last part of the path.
    package var action: String
    /// The circuit's name, as the path gives it (percent-decoded).
    package var name: String
    /// `reason` in the body.
    package var reason: String?
    /// `for` in the body, a duration as the command takes it (`30s`, `1h30m`).
    package var duration: String?
    /// `create` in the body: as `--create`.
    package var create: Bool

    /// A change from its parts.
    package init(action: String, name: String, reason: String? = nil, duration: String? = nil, create: Bool = false) {
        self.action = action
        self.name = name
        self.reason = reason
        self.duration = duration
        self.create = create
    }
}

/// A request the server refuses, or a failure it reports: an HTTP status and a JSON body
/// `{"error": code, "message": message}`.
package struct DashboardError: Error, Sendable, Equatable {
    /// The HTTP status: 400 bad input, 401 no or wrong token, 403 read-only or not allowed, 404 no such circuit or
    /// path, 405, 413, 415, 503 the store cannot be used.
    package var status: Int
    /// A short stable word: `bad-request`, `unauthorized`, `read-only`, `no-such-circuit`, `storage`, ….
    package var code: String
    /// What is wrong, in the command's words.
    package var message: String

    /// An error from its parts.
    package init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}
#endif
