// The factory in brief: one per process and store, a breaker per job (the example of BreakerFactory's reference).

import Circuitry
import Logging

// snippet.hide
struct Message: Sendable {}
struct Job: Sendable {
    var tenant: String
    var message: Message
}
struct Mailer: Sendable {
    func send(_ message: Message) async throws {}
}
let mailer = Mailer()
let job = Job(tenant: "acme", message: Message())
let logger = Logger(label: "factory")
// snippet.show
let store = try SQLiteCircuitStore(path: "/var/lib/jobs/breakers.sqlite")
var configuration = BreakerFactory.Configuration()
configuration.naming = { base, context in "\(base)/\(context["tenant"] ?? "-")" }
let breakers = try BreakerFactory(store: store, configuration: configuration, logger: logger)

let breaker = try breakers.breaker(for: "send-email", context: ["tenant": job.tenant])
try await breaker.execute { try await mailer.send(job.message) }
