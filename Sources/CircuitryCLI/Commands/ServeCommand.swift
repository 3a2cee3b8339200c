import ArgumentParser
import Circuitry
import CircuitryCommandLine
import Foundation

#if Dashboard
import CircuitryDashboard
#endif

/// `circuitry serve [--listen HOST:PORT] [--read-only] [--token-file FILE]`: the dashboard, the JSON and event API
/// and the metrics over HTTP (package trait `Dashboard`).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a live web page of the circuits, a JSON and event API, and Prometheus metrics over HTTP.",
        discussion: """
            GET / is the page; GET /api/circuits and /api/circuits/NAME give the JSON of list --json and show \
            --json; GET /api/events streams transitions as server-sent events (resumable with Last-Event-ID); POST \
            /api/circuits/NAME/trip, /close and /reset with a JSON body {"reason": …, "for": …, "create": …} change \
            a circuit as the subcommands do; GET /metrics is in the Prometheus text format. Once listening, prints \
            "listening on http://HOST:PORT". Writes need the token when one is given (Authorization: Bearer TOKEN); \
            beyond loopback one is required unless --read-only. Needs the package trait Dashboard. See Docs/cli.md.
            """
    )

    /// The environment variable that holds the token when neither `--token` nor `--token-file` is given.
    static let tokenVariable = "CIRCUITRY_TOKEN"

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("Where to listen, as 127.0.0.1:8080 or [::1]:8080; port 0 picks a free one."))
    var listen = "127.0.0.1:8080"

    @Flag(help: "Refuse every write (trip, close, reset): a page and an API to look with.")
    var readOnly = false

    @Option(
        help: ArgumentHelp(
            "The bearer token that writes need (default: $\(ServeCommand.tokenVariable)). Other users can read a "
                + "command line: prefer the variable or --token-file.",
            valueName: "token"))
    var token: String?

    @Option(
        help: ArgumentHelp("A file whose content (without trailing whitespace) is the token.", valueName: "path"),
        completion: .file())
    var tokenFile: String?

    @Option(help: ArgumentHelp("The most circuits with a series of their own in /metrics.", valueName: "n"))
    var metricsCircuits = 100

    @Option(
        help: ArgumentHelp("How often an idle event stream gets a keep-alive comment.", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var keepAlive = DurationArgument(milliseconds: 15_000)

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if token != nil, tokenFile != nil { throw ValidationError("--token and --token-file cannot both be given") }
        guard metricsCircuits >= 0 else { throw ValidationError("--metrics-circuits must not be negative") }
        guard keepAlive.milliseconds > 0 else { throw ValidationError("--keep-alive must be more than 0") }
    }

    func run() async throws {
        #if Dashboard
        try await serve()
        #else
        Console.error(
            "this build of circuitry has no serve: build it with the package trait Dashboard "
                + "(swift build --traits Dashboard)")
        throw ExitCode(status: ExitStatus.usage)
        #endif
    }

    /// The token from `--token`, `--token-file` or `CIRCUITRY_TOKEN`, or `nil`; a usage error for an empty or
    /// unreadable one. Never printed.
    func resolvedToken(environment: [String: String]) throws(ValidationError) -> String? {
        if let token { return token }
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw ValidationError("--token-file: cannot read \(tokenFile)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("--token-file: \(tokenFile) is not UTF-8 text")
            }
            var trimmed = Substring(text)
            while let last = trimmed.last, last.isWhitespace { trimmed.removeLast() }
            return String(trimmed)
        }
        return environment[Self.tokenVariable]
    }
}

#if Dashboard
extension ServeCommand {
    /// Runs the server until SIGINT or SIGTERM.
    private func serve() async throws {
        let configuration: DashboardServer.Configuration
        do {
            let address = try ListenAddress(parsing: listen)
            let token = try resolvedToken(environment: ProcessInfo.processInfo.environment)
            let access = try WriteAccess(readOnly: readOnly, token: token, listening: address)
            configuration = DashboardServer.Configuration(
                address: address, access: access, metricsCircuits: metricsCircuits, keepAlive: keepAlive.duration)
        } catch let error as DashboardError {
            Console.error(error.message)
            throw ExitCode(status: ExitStatus.usage)
        } catch let error as ValidationError {
            Console.error(error.message)
            throw ExitCode(status: ExitStatus.usage)
        }
        let logger = logging.logger
        let storeOptions = store
        try await reportingErrors {
            try await store.withStore(mustExist: true, logger: logger) { store, factory in
                let backend = DashboardBackend(
                    factory: factory,
                    circuits: {
                        try await Self.httpErrors {
                            let reports = try await CircuitReport.make(
                                try await factory.snapshots(), factory: factory, store: store)
                            return reports.map {
                                DashboardCircuit(
                                    name: $0.record.name, state: $0.record.state, json: JSONLines.line(CircuitJSON($0)))
                            }
                        }
                    },
                    circuit: { name in
                        try await Self.httpErrors {
                            try validateCircuitName(name)
                            let snapshot = try await NoSuchCircuit.require(
                                name, in: factory, store: storeOptions, canCreate: false)
                            let history = try await factory.history(of: snapshot.record.name, limit: 10)
                            let report = try await CircuitReport.make(
                                snapshot, lastTransition: history.last, store: store)
                            return JSONLines.line(CircuitJSON(report, history: history))
                        }
                    },
                    change: { request in
                        try await Self.httpErrors {
                            let change = try OperatorChange(request)
                            try validateCircuitName(request.name)
                            return try await change.apply(
                                to: request.name, create: request.create, factory: factory, store: storeOptions)
                        }
                    },
                    transitionJSON: { JSONLines.line(TransitionJSON($0)) })
                let server = DashboardServer(configuration: configuration, backend: backend, logger: logger)
                try await server.run { host, port in
                    let shown = host.contains(":") ? "[\(host)]" : host
                    Console.out("listening on http://\(shown):\(port)")
                }
            }
        }
    }

    /// Runs `body`, turning the command's errors into the HTTP errors that say the same.
    private static func httpErrors<Value>(_ body: () async throws -> Value) async throws -> Value {
        do {
            return try await body()
        } catch let error as ValidationError {
            throw DashboardError(status: 400, code: "bad-request", message: error.message)
        } catch let error as NoSuchCircuit {
            throw DashboardError(status: 404, code: "no-such-circuit", message: error.description)
        } catch let error as CircuitStoreError {
            throw DashboardError(status: 503, code: "storage", message: storageMessage(error))
        } catch let error as ConfigurationError {
            throw DashboardError(status: 400, code: "bad-request", message: error.description)
        }
    }
}

extension OperatorChange {
    /// The change a POST asks for, checked as the subcommand's options are: `reason` for trip and close, `for` for
    /// trip only, in the forms of `--for`.
    init(_ request: DashboardChange) throws(ValidationError) {
        switch request.action {
        case "trip":
            var duration: DurationArgument?
            if let text = request.duration {
                do {
                    duration = try DurationArgument(parsing: text)
                } catch {
                    // As ArgumentParser puts it for --for: the option, the value, then why.
                    throw ValidationError("The value '\(text)' is invalid for \"for\": \(error.message)")
                }
            }
            self = .trip(for: duration, reason: request.reason)
        case "close":
            if request.duration != nil { throw ValidationError("\"for\" is for trip only; close holds until reset") }
            self = .close(reason: request.reason)
        case "reset":
            if request.duration != nil || request.reason != nil {
                throw ValidationError("reset takes neither \"reason\" nor \"for\"")
            }
            self = .reset
        default:
            throw ValidationError("no such change \"\(request.action)\"; the changes are trip, close and reset")
        }
    }
}
#endif
