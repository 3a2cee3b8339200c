// The PostgreSQL store (trait Postgres): breakers shared by the worker processes of many hosts.

// snippet.hide
#if Postgres
// snippet.show
import Circuitry
import CircuitryPostgres
import ServiceLifecycle
// snippet.hide
import Logging

struct Worker: Service {
    func run() async throws {}
}
let logger = Logger(label: "postgres")
let worker = Worker()
let configuration = BreakerFactory.Configuration()
func runWorker(_ breakers: BreakerFactory) async throws {}
// snippet.show

let store = try PostgresCircuitStore(
    url: "postgres://jobs:secret@db.internal:5432/jobs?sslmode=verify-full", logger: logger)
let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)

// The store owns a connection pool whose background work runs in the store's run():
let group = ServiceGroup(services: [store, worker], gracefulShutdownSignals: [.sigterm], logger: logger)
try await group.run()
// snippet.end

// snippet.with-store
// Without swift-service-lifecycle: the pool runs, and the tables are checked, for the duration of the closure.
let storeConfiguration = try PostgresCircuitStore.Configuration(url: "postgres://jobs@db.internal/jobs")
try await PostgresCircuitStore.withStore(configuration: storeConfiguration, logger: logger) { store in
    try await runWorker(BreakerFactory(store: store, configuration: configuration, logger: logger))
}
// snippet.end

// snippet.local-view
// Admit calls on a healthy circuit from what this process saw at most 100 ms ago: no round trip per healthy call.
var viewing = BreakerFactory.Configuration()
viewing.maximumStaleness = .milliseconds(100)
let viewingBreakers = try BreakerFactory(store: store, configuration: viewing, logger: logger)
// snippet.end
// snippet.hide
#endif
