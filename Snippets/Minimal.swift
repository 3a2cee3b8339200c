// The README's first example: a breaker shared by every process that opens the same file.

import Circuitry
import Logging

// snippet.hide
struct Mailer: Sendable {
    func send(_ message: String) async throws {}
}
let mailer = Mailer()
let message = "hello"
func retryLater(at instant: Timestamp?) {}
// snippet.show
let breakers = try BreakerFactory(
    store: SQLiteCircuitStore(path: "/var/lib/jobs/breakers.sqlite"), logger: Logger(label: "jobs"))
let breaker = try breakers.breaker(for: "send-email/acme")
do {
    try await breaker.execute { try await mailer.send(message) }  // counted in every process's circuit
} catch let rejected as CircuitRejected {
    retryLater(at: rejected.retryAfter)  // open: the work did not run
}
