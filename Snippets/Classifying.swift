// How a finished call counts: classifiers, expected errors, and an upstream's Retry-After.

import Circuitry
import Foundation
import Logging

// snippet.hide
struct ValidationError: Error {}
struct HTTPError: Error {
    var status: Int
    var retryAfter: Date?
}
struct Client: Sendable {
    func fetch(_ id: Int) async throws -> String { "" }
}
let client = Client()
let id = 1
let logger = Logger(label: "classifying")
// snippet.show
// An error type that can say a failure is a normal answer of a healthy upstream (the Go library's IsExpected()).
struct NotFound: ExpectableError {
    var isExpected: Bool { true }
}

var configuration = BreakerFactory.Configuration()
// For the circuits of base name "send-email": a 429 or 503 with Retry-After opens the circuit at once, in every
// process, until that time; another 4xx is an answer of a healthy upstream.
configuration.classifiers["send-email"] = { error in
    guard let error = error as? HTTPError else { return nil }  // nil: ask the next classifier
    if [429, 503].contains(error.status), let until = error.retryAfter {
        return .failure(openUntil: Timestamp(until))
    }
    return error.status == 429 || error.status >= 500 ? .failure : .success
}
// For every circuit, when its own classifier (if any) returned nil: a request we got wrong is not the upstream's fault.
configuration.fallbackClassifier = { error in error is ValidationError ? .success : nil }

let breakers = try BreakerFactory(store: InMemoryCircuitStore(), configuration: configuration, logger: logger)
let breaker = try breakers.breaker(for: "fetch")
let item = try await breaker.execute {
    do { return try await client.fetch(id) } catch let error as HTTPError where error.status == 404 {
        throw ExpectedError(error)
    }
}
// snippet.hide
struct QueuedJob: Sendable {}
struct JobQueue: Sendable {
    func retry(_ job: QueuedJob, at instant: Date) async throws {}
}
let queue = JobQueue()
let job = QueuedJob()
do {
    _ = try await breaker.execute { try await client.fetch(id) }
    // snippet.show
} catch let rejection as CircuitRejected {
    try await queue.retry(job, at: rejection.retryAfter?.date ?? .now.addingTimeInterval(60))
}
