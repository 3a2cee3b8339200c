import Circuitry
import CircuitryStores
import Foundation

#if Postgres
import CircuitryPostgres
#endif
#if Redis
import CircuitryRedis
#endif
#if DynamoDB
import CircuitryDynamoDB
#endif

extension StoreLocation {
    /// The store's type and where it is, for the demo's output (never a password).
    var storeDescription: String {
        switch kind {
        case .sqlite(let path): "SQLiteCircuitStore, \(path)"
        #if Postgres
        case .postgres(let configuration): "PostgresCircuitStore, \(configuration.location)"
        #endif
        #if Redis
        case .redis(let configuration): "RedisCircuitStore, \(configuration.location)"
        #endif
        #if DynamoDB
        case .dynamodb(let configuration): "DynamoDBCircuitStore, \(configuration.location)"
        #endif
        }
    }
}

/// A shell command that shows the circuits, printed as `shown` and run as `executable` with `arguments`.
struct OperatorCommand {
    var shown: String
    var executable: String
    var arguments: [String]
    var environment: [String: String]
    /// Printed instead of the output when `executable` cannot be started.
    var whenMissing: String

    init(
        shown: String, executable: String, arguments: [String], environment: [String: String] = [:],
        whenMissing: String
    ) {
        self.shown = shown
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.whenMissing = whenMissing
    }

    /// Prints the command and its real output.
    func show() {
        DemoOutput.say("$ \(shown)")
        guard let path = Self.find(executable) else { return DemoOutput.say(whenMissing) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            DemoOutput.say(String(decoding: data, as: UTF8.self), newline: false)
        } catch {
            DemoOutput.say("(\(executable) did not start: \(error))")
        }
    }

    /// `name` if it is a path, else the first executable of that name in `PATH`.
    private static func find(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

extension OperatorCommand {
    /// The commands an operator types to see the circuits at `location`: the two queries the demo ends with, on the
    /// `circuit_status` and `transition_log` views that both SQL stores create.
    static func all(for location: StoreLocation) -> [OperatorCommand] {
        func queries(circuitStatus: String, transitionLog: String) -> [String] {
            [
                "select name, state, generation, failures, expires_at, updated_at from \(circuitStatus)",
                "select at, circuit, from_state, to_state, reason, actor from \(transitionLog)",
            ]
        }
        switch location.kind {
        case .sqlite(let path):
            return queries(circuitStatus: "circuit_status", transitionLog: "transition_log").map { query in
                OperatorCommand(
                    shown: "sqlite3 -header -column \(path) '\(query)'", executable: "sqlite3",
                    arguments: ["-header", "-column", path, query],
                    whenMissing: "(sqlite3 is not installed here: apt-get install sqlite3)")
            }
        #if Postgres
        case .postgres(let configuration):
            return psql(configuration, queries: queries)
        #endif
        #if Redis
        case .redis(let configuration):
            return redisCLI(configuration)
        #endif
        #if DynamoDB
        case .dynamodb(let configuration):
            return awsCLI(configuration)
        #endif
        }
    }

    #if DynamoDB
    /// The AWS CLI reading the circuits (a scan for `kind = circuit`) and the log of all transitions (a query of the
    /// `log` partition), as the table's items are laid out.
    private static func awsCLI(_ configuration: DynamoDBCircuitStore.Configuration) -> [OperatorCommand] {
        var place = ["--region", configuration.region, "--output", "table"]
        if let endpoint = configuration.endpoint { place += ["--endpoint-url", endpoint.absoluteString] }
        let circuits = [
            "dynamodb", "scan", "--table-name", configuration.table, "--filter-expression", "#k = :c",
            "--expression-attribute-names", ##"{"#k":"kind","#n":"name","#s":"state"}"##,
            "--expression-attribute-values", #"{":c":{"S":"circuit"}}"#,
            "--projection-expression", "#n, #s, generation, failures, updated_utc",
        ]
        let log = [
            "dynamodb", "query", "--table-name", configuration.table, "--key-condition-expression", "pk = :p",
            "--expression-attribute-values", #"{":p":{"S":"log"}}"#,
            "--projection-expression", "at_utc, circuit, from_state, to_state, reason, actor",
        ]
        return [circuits, log].map { read in
            let arguments = read + place
            let shown = arguments.map { $0.contains(" ") || $0.contains("{") ? "'\($0)'" : $0 }
            return OperatorCommand(
                shown: "aws " + shown.joined(separator: " "), executable: "aws", arguments: arguments,
                whenMissing: "(the AWS CLI is not installed here; circuitry list --db '\(configuration.location)' "
                    + "shows the circuits)")
        }
    }
    #endif

    #if Postgres
    /// `psql` with the server in libpq's environment variables, so that no password is printed.
    private static func psql(
        _ configuration: PostgresCircuitStore.Configuration,
        queries: (_ circuitStatus: String, _ transitionLog: String) -> [String]
    ) -> [OperatorCommand] {
        func name(_ view: String) -> String {
            if configuration.schema == "public", configuration.tablePrefix.isEmpty { return view }
            return "\"\(configuration.schema)\".\"\(configuration.tablePrefix)\(view)\""
        }
        var environment = [
            "PGHOST": configuration.host, "PGPORT": "\(configuration.port)", "PGUSER": configuration.username,
            "PGDATABASE": configuration.database,
        ]
        if let password = configuration.password { environment["PGPASSWORD"] = password }
        // Debian's postgresql-15 puts psql here; postgresql-client puts it on the PATH.
        let debian = "/usr/lib/postgresql/15/bin/psql"
        let psql = FileManager.default.isExecutableFile(atPath: debian) ? debian : "psql"
        return queries(name("circuit_status"), name("transition_log")).map { query in
            OperatorCommand(
                shown: "psql \(configuration.location) -c '\(query)'", executable: psql,
                arguments: ["-c", query], environment: environment,
                whenMissing: "(psql is not installed here: apt-get install postgresql-client)")
        }
    }
    #endif

    #if Redis
    /// `redis-cli` reading the circuits' hashes and the transition log, with the password in `REDISCLI_AUTH` so
    /// that none is printed.
    private static func redisCLI(_ configuration: RedisCircuitStore.Configuration) -> [OperatorCommand] {
        var environment: [String: String] = [:]
        if let password = configuration.password { environment["REDISCLI_AUTH"] = password }
        var connection = ["-h", configuration.host, "-p", "\(configuration.port)", "-n", "\(configuration.database)"]
        if let user = configuration.username { connection += ["--user", user] }
        if configuration.tls { connection += ["--tls"] }
        let tag = "{\(configuration.keyPrefix)}"
        // Every circuit's hash, by the index, then the log: what `select … from circuit_status` and
        // `select … from transition_log` show in the SQL stores.
        let circuits =
            "for name in $(redis-cli \(connection.joined(separator: " ")) --raw ZRANGE '\(tag):circuits' 0 -1); do "
            + "echo \"$name: $(redis-cli \(connection.joined(separator: " ")) --raw HMGET \"\(tag):circuit:$name\" "
            + "state generation failures | paste -sd ' ')\"; done"
        return [
            OperatorCommand(
                shown: circuits, executable: "/bin/sh", arguments: ["-c", circuits], environment: environment,
                whenMissing: "(sh is not available here)"),
            OperatorCommand(
                shown: "redis-cli \(connection.joined(separator: " ")) --raw ZRANGE '\(tag):log' 0 -1",
                executable: "redis-cli", arguments: connection + ["--raw", "ZRANGE", "\(tag):log", "0", "-1"],
                environment: environment,
                whenMissing: "(redis-cli is not installed here: apt-get install redis-tools)"),
        ]
    }
    #endif
}
