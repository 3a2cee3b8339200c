// Operating circuits from code: overrides, reads, pruning. Every process honours them at once.

import Circuitry
import Logging

// snippet.hide
let breakers = try BreakerFactory(store: InMemoryCircuitStore(), logger: Logger(label: "operating"))
let name = "send-email/globex"
// snippet.show
// Held open for 5 minutes from the store's clock (the server's, on PostgreSQL); returns the end it set.
let until = try await breakers.forceOpen(name, for: .seconds(300), reason: "upstream maintenance")
// Held open until an instant that must be after the store's now (else a ConfigurationError), or with no end.
try await breakers.forceOpen(name, until: until, reason: "upstream maintenance")
// Held closed: calls run and are counted, it never trips.
try await breakers.forceClosed(name, reason: "false alarm")
// Back to closed, a new generation, no override.
try await breakers.reset(name)

// Reads change nothing.
if let snapshot = try await breakers.snapshot(of: name) {
    print(snapshot.state, snapshot.record.counts.failures, snapshot.retryAfter as Any)
}
for entry in try await breakers.history(of: name) {
    print(entry.id, entry.transition.from, "->", entry.transition.to, entry.transition.reason)
}

// Remove closed circuits without an override that nothing has written for 30 days; returns their names.
let pruned = try await breakers.prune(idleFor: .seconds(30 * 24 * 3600))
// Remove one circuit's record (returns whether it existed); its next call starts a fresh closed circuit.
let forgotten = try await breakers.forget(name)
// snippet.hide
print(pruned, forgotten)
