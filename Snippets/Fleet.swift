// A fleet of workers: the factory as a service of the application's lifecycle (trait ServiceLifecycle), and watching
// every process's transitions from another one.

// snippet.hide
import Circuitry

#if ServiceLifecycle
// snippet.show
import CircuitryServiceLifecycle
import ServiceLifecycle
// snippet.hide
import Circuitry
import Logging

struct JobRunner: Service {
    func run() async throws {}
}
let jobRunner = JobRunner()
let logger = Logger(label: "fleet")
let store = try SQLiteCircuitStore(path: "/var/lib/jobs/breakers.sqlite")
let configuration = BreakerFactory.Configuration()
func loadSavedPosition() -> Int64? { nil }
func alert(_ transition: CircuitTransition) {}
func resynchronise(_ circuit: String) {}
// snippet.show

let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)
// A group shuts its services down in reverse order: the workers first, then the factory's final flush.
let group = ServiceGroup(services: [breakers, jobRunner], gracefulShutdownSignals: [.sigterm], logger: logger)
try await group.run()

var position: Int64 = loadSavedPosition() ?? 0
for try await event in breakers.transitions(after: .after(position)) {
    switch event {
    case .transition(let entry): alert(entry.transition)
    case .missed(let gap): resynchronise(gap.circuit)  // pruned unread: read the circuit's state instead
    }
    position = event.position  // save it: a new watch after it resumes without gaps or repeats
}
// snippet.hide
#endif

func worker(_ breakers: BreakerFactory) async throws {
    // snippet.show
    let flushing = Task { try await breakers.flushUntilCancelled() }
    // … the worker's life …
    flushing.cancel()
    try await flushing.value  // the final flush is written (or its error thrown)
    // snippet.hide
}
