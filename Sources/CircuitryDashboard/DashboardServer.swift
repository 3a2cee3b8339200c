#if Dashboard
import AsyncAlgorithms
import Circuitry
import CircuitryCommandLine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `circuitry serve`: the page, the JSON and event API and the metrics over HTTP.
///
/// Every request reads the store when it comes (no cache: what it shows is what the store has), in reads and writes
/// that each take their own short transaction; nothing is held while a response is written, so a slow client holds
/// no lock and delays no worker.
package struct DashboardServer: Sendable {
    /// How the server runs.
    package struct Configuration: Sendable {
        /// Where it listens.
        package var address: ListenAddress
        /// Who may write.
        package var access: WriteAccess
        /// The most circuits with a `/metrics` series of their own.
        package var metricsCircuits: Int
        /// How often an idle event stream gets a comment, so that proxies and browsers keep it open.
        package var keepAlive: Duration
        /// How often the event streams and the metrics look for new transitions.
        package var pollInterval: Duration

        /// A configuration from its parts.
        package init(
            address: ListenAddress, access: WriteAccess, metricsCircuits: Int = 100,
            keepAlive: Duration = .seconds(15), pollInterval: Duration = .milliseconds(200)
        ) {
            self.address = address
            self.access = access
            self.metricsCircuits = metricsCircuits
            self.keepAlive = keepAlive
            self.pollInterval = pollInterval
        }
    }

    /// How the server runs.
    package var configuration: Configuration
    /// What it serves.
    package var backend: DashboardBackend
    /// Where it logs (never the token, which it does not have in a printable form anywhere but ``WriteAccess``).
    package var logger: Logger

    /// A server, not yet running.
    package init(configuration: Configuration, backend: DashboardBackend, logger: Logger) {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
    }

    /// The id of the latest transition in the history (of `circuit`), or 0: where a stream of what comes next starts.
    static func latestID(factory: BreakerFactory, circuit: String? = nil) async throws -> Int64 {
        try await factory.history(of: circuit, limit: 1).last?.id ?? 0
    }

    /// The largest request body accepted (a POST's JSON).
    static let maximumBodySize = 64 * 1024

    /// Runs until SIGINT or SIGTERM; calls `onListening` with the address and port once it accepts connections.
    package func run(onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void) async throws {
        let metrics = DashboardMetrics(maximumCircuits: configuration.metricsCircuits)
        let startID = try await Self.latestID(factory: backend.factory)
        let streams = OpenStreams()
        let router = Router()
        addRoutes(to: router, metrics: metrics, streams: streams)
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.address.host, port: configuration.address.port),
                serverName: "circuitry"),
            onServerRunning: { channel in
                onListening(configuration.address.host, channel.localAddress?.port ?? configuration.address.port)
            },
            logger: logger)
        // Services shut down in the reverse of this order: the event streams end first, so that the server's own
        // graceful shutdown, which waits for every response to end, does not wait for them.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [app, TransitionCounter(server: self, metrics: metrics, afterID: startID), streams],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    // MARK: Routes

    private func addRoutes(to router: Router<BasicRequestContext>, metrics: DashboardMetrics, streams: OpenStreams) {
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        router.get("/api/circuits") { _, _ in
            await respond {
                let circuits = try await backend.circuits()
                return .json("[" + circuits.map(\.json).joined(separator: ",") + "]")
            }
        }
        router.get("/api/circuits/**") { request, _ in
            await respond {
                let parts = try Self.pathParts(request.uri.path, after: "/api/circuits/")
                return .json(try await backend.circuit(parts.joined(separator: "/")))
            }
        }
        router.post("/api/circuits/**") { request, _ in
            await respond {
                try configuration.access.check(
                    authorization: request.headers[.authorization], host: request.head.authority)
                var parts = try Self.pathParts(request.uri.path, after: "/api/circuits/")
                let action = parts.removeLast()
                guard ["trip", "close", "reset"].contains(action), !parts.isEmpty else {
                    throw DashboardError(
                        status: 404, code: "no-such-path",
                        message: "POST /api/circuits/NAME/trip, /close or /reset")
                }
                var change = try await Self.decodeChange(request: request)
                change.action = action
                change.name = parts.joined(separator: "/")
                let message = try await backend.change(change)
                logger.info(
                    "operator change over HTTP",
                    metadata: ["circuitry.circuit": "\(change.name)", "circuitry.action": "\(action)"])
                return .json(JSONText.object(["ok": true, "message": message]))
            }
        }
        router.get("/api/events") { request, _ in
            await respond { try eventStream(request: request, streams: streams) }
        }
        router.get("/metrics") { _, _ in
            await respond {
                let circuits = try await backend.circuits()
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.text(circuits: circuits))))
            }
        }
    }

    /// The response of `body`, or the JSON of the error it throws.
    private func respond(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as DashboardError {
            return .error(error)
        } catch {
            logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            return .error(DashboardError(status: 500, code: "internal", message: "the server failed: \(error)"))
        }
    }

    /// The percent-decoded parts of a path after `prefix`: `send-email%2Facme/trip` and `send-email/acme/trip` both
    /// give `["send-email", "acme", "trip"]`.
    static func pathParts(_ path: String, after prefix: String) throws(DashboardError) -> [String] {
        guard path.hasPrefix(prefix) else {
            throw DashboardError(status: 404, code: "no-such-path", message: "no such path")
        }
        var parts: [String] = []
        for raw in path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false) {
            guard let part = String(raw).removingPercentEncoding else {
                throw DashboardError(status: 400, code: "bad-request", message: "the path is not percent-encoded UTF-8")
            }
            parts += part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        }
        guard !parts.isEmpty, parts != [""] else {
            throw DashboardError(status: 404, code: "no-such-path", message: "a circuit's name is missing")
        }
        return parts
    }

    /// The body of a POST: a JSON object with `reason`, `for` and `create`, each optional; an empty body is `{}`.
    static func decodeChange(request: Request) async throws -> DashboardChange {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        var buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumBodySize)
        } catch is NIOTooManyBytesError {
            throw DashboardError(
                status: 413, code: "too-large", message: "the body is over \(maximumBodySize) bytes")
        }
        guard buffer.readableBytes > 0 else { return DashboardChange(action: "", name: "") }
        guard contentType.hasPrefix("application/json") else {
            throw DashboardError(
                status: 415, code: "unsupported-media-type",
                message: "the body must be JSON (Content-Type: application/json)")
        }
        let data = buffer.readData(length: buffer.readableBytes) ?? Data()
        let body: ChangeBody
        do {
            body = try JSONDecoder().decode(ChangeBody.self, from: data)
        } catch let error as DashboardError {
            throw error
        } catch DecodingError.typeMismatch(_, let context) where !context.codingPath.isEmpty {
            let key = context.codingPath[context.codingPath.count - 1].stringValue
            let expected = key == "create" ? "true or false" : "a string"
            throw DashboardError(status: 400, code: "bad-request", message: "\"\(key)\" must be \(expected)")
        } catch {
            throw DashboardError(status: 400, code: "bad-request", message: "the body must be a JSON object")
        }
        return DashboardChange(
            action: "", name: "", reason: body.reason, duration: body.duration, create: body.create ?? false)
    }

    /// The JSON body of a POST; any other key is refused, so that a misspelt one is not silently ignored.
    struct ChangeBody: Decodable {
        var reason: String?
        var duration: String?
        var create: Bool?

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(_ name: String) { stringValue = name }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            let known = ["reason", "for", "create"]
            if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
                throw DashboardError(
                    status: 400, code: "bad-request",
                    message: "unknown key \"\(unknown)\"; the keys are reason, for and create")
            }
            reason = try container.decodeIfPresent(String.self, forKey: Key("reason"))
            duration = try container.decodeIfPresent(String.self, forKey: Key("for"))
            create = try container.decodeIfPresent(Bool.self, forKey: Key("create"))
        }
    }

    // MARK: Events

    /// What an event stream sends: a transition, or a comment that keeps an idle stream open.
    enum StreamItem: Sendable {
        case history(HistoryEvent)
        case keepAlive
        case shutdown
    }

    /// `GET /api/events`: server-sent events, one per transition, from after `Last-Event-ID` (or `?after=`), or
    /// from now. `?circuit=NAME` for one circuit's.
    private func eventStream(request: Request, streams: OpenStreams) throws -> Response {
        let lastEventID =
            request.headers[HTTPField.Name("Last-Event-ID")!]
            ?? request.uri.queryParameters["after"]
            .map(String.init)
        var afterID: Int64?
        if let lastEventID {
            guard let id = Int64(lastEventID.trimmingCharacters(in: .whitespaces)), id >= 0 else {
                throw DashboardError(
                    status: 400, code: "bad-request",
                    message: "Last-Event-ID must be a history id (a whole number, 0 or more)")
            }
            afterID = id
        }
        let circuit = request.uri.queryParameters["circuit"].map(String.init)
        if let circuit {
            do {
                try CircuitName.validate(circuit)
            } catch {
                throw DashboardError(status: 400, code: "bad-request", message: error.message)
            }
        }
        let requestedStart = afterID
        let factory = backend.factory
        let configuration = configuration
        let transitionJSON = backend.transitionJSON
        let body = ResponseBody { writer in
            let start: Int64
            if let requestedStart {
                start = requestedStart
            } else {
                start = try await Self.latestID(factory: factory, circuit: circuit)
            }
            // How long a browser waits before reconnecting, and a first line so that the client sees the stream open.
            try await writer.write(ByteBuffer(string: "retry: 1000\n: connected after \(start)\n\n"))
            let watch = factory.transitions(of: circuit, after: .after(start), pollInterval: configuration.pollInterval)
            let ticks = AsyncTimerSequence(interval: configuration.keepAlive, clock: .continuous)
            let (shutdown, shuttingDown) = AsyncStream<StreamItem>.makeStream()
            let registration = streams.add(shuttingDown)
            defer { streams.remove(registration) }
            // Demand-driven: the feed reads its next page only once the client has taken the last event.
            let items = merge(
                watch.map { StreamItem.history($0) }, ticks.map { _ in StreamItem.keepAlive }, shutdown)
            loop: for try await item in items {
                switch item {
                case .history(.transition(let entry)):
                    let text = "id: \(entry.id)\nevent: transition\ndata: \(transitionJSON(entry))\n\n"
                    try await writer.write(ByteBuffer(string: text))
                case .history(.missed(let gap)):
                    // Pruned before this stream read them: the client reads the circuit's state instead. No id: a
                    // reconnect resumes after the last transition sent, and is told of the gap again.
                    let data = JSONText.object(["circuit": gap.circuit, "after": gap.after, "before": gap.before])
                    try await writer.write(ByteBuffer(string: "event: missed\ndata: \(data)\n\n"))
                case .keepAlive:
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                case .shutdown:
                    break loop
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-cache",
                // nginx buffers responses unless told not to.
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: body)
    }
}

/// The event streams being written, which end when the server shuts down: a long-lived response would otherwise hold
/// the server's graceful shutdown until the client leaves.
final class OpenStreams: Service, Sendable, CustomStringConvertible {
    private struct State {
        var closing = false
        var next = 0
        var streams: [Int: AsyncStream<DashboardServer.StreamItem>.Continuation] = [:]
    }

    private let state = Mutex(State())

    /// What the service group's logs call it.
    var description: String { "OpenStreams" }

    /// Registers a stream's way to end; ends it at once if the server is already shutting down.
    func add(_ continuation: AsyncStream<DashboardServer.StreamItem>.Continuation) -> Int {
        let (id, closing) = state.withLock { state in
            state.next += 1
            if !state.closing { state.streams[state.next] = continuation }
            return (state.next, state.closing)
        }
        if closing { Self.end(continuation) }
        return id
    }

    /// Forgets a stream that ended.
    func remove(_ id: Int) {
        _ = state.withLock { $0.streams.removeValue(forKey: id) }
    }

    func run() async throws {
        // Until the group shuts down; cancellation (the group failing) ends the streams too.
        try? await gracefulShutdown()
        let open = state.withLock { state in
            state.closing = true
            defer { state.streams.removeAll() }
            return Array(state.streams.values)
        }
        for continuation in open { Self.end(continuation) }
    }

    private static func end(_ continuation: AsyncStream<DashboardServer.StreamItem>.Continuation) {
        continuation.yield(.shutdown)
        continuation.finish()
    }
}

/// Counts the transitions that commit while the server runs, for `circuitry_transitions_total`.
struct TransitionCounter: Service, CustomStringConvertible {
    let server: DashboardServer
    let metrics: DashboardMetrics
    let afterID: Int64

    /// What the service group's logs call it.
    var description: String { "TransitionCounter" }

    /// The position after the last event counted: where a watch started again after a store error resumes.
    private final class Position: Sendable {
        let value: Mutex<Int64>
        init(_ value: Int64) { self.value = Mutex(value) }
    }

    func run() async throws {
        let position = Position(afterID)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let watch = server.backend.factory.transitions(
                    after: .after(position.value.withLock { $0 }), pollInterval: server.configuration.pollInterval)
                try await cancelWhenGracefulShutdown {
                    for try await event in watch {
                        // A gap (transitions pruned before they were read) is not counted: they are gone.
                        if case .transition(let entry) = event { metrics.record(entry) }
                        position.value.withLock { $0 = event.position }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                // A busy or unreachable store: the next scrape says so; try again shortly.
                server.logger.debug("reading the history failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

extension Response {
    /// A JSON body.
    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-cache"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The JSON of an error: `{"error": code, "message": message}`.
    static func error(_ error: DashboardError) -> Response {
        var response = json(
            JSONText.object(["error": error.code, "message": error.message]),
            status: HTTPResponse.Status(code: error.status))
        if error.status == 401 { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }
}

/// Small JSON objects written with sorted keys, as the command writes its own.
enum JSONText {
    /// `fields` as one line of JSON; the values are strings and booleans.
    static func object(_ fields: [String: any Sendable]) -> String {
        // Strings and booleans only: serializing cannot fail.
        let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
#endif
