// The two-step form: a permit before the work, its outcome after, possibly from another place.

import Circuitry
import Logging

// snippet.hide
let breakers = try BreakerFactory(store: InMemoryCircuitStore(), logger: Logger(label: "two-step"))
let breaker = try breakers.breaker(for: "send-email")
struct JobFailed: Error {}
// snippet.show
let permit = try await breaker.acquire()  // throws CircuitRejected when open
// ... run the job ...
try await breaker.record(.success, for: permit)
// snippet.end

// snippet.error
// A job that ended with an error: classified as execute would classify it.
let another = try await breaker.acquire()
try await breaker.record(error: JobFailed(), for: another)
// snippet.end

// snippet.flush
// Before the worker exits, write the successes this process batched.
try await breakers.flush()
// snippet.end
