/// How a finished call counts for its circuit.
public struct CallOutcome: Sendable, Hashable, CustomStringConvertible {
    let kind: OutcomeKind
    /// For a failure: the upstream asked not to be called before this instant.
    public let openUntil: Timestamp?

    init(kind: OutcomeKind, openUntil: Timestamp? = nil) {
        self.kind = kind
        self.openUntil = openUntil
    }

    /// The call succeeded (or failed in a way that says nothing about the upstream's health).
    public static let success = CallOutcome(kind: .success)
    /// The call failed; it counts toward the trip policy.
    public static let failure = CallOutcome(kind: .failure)
    /// The call failed and the upstream asked not to be called before `until` (an HTTP 429 or 503 with
    /// `Retry-After`, say): the circuit opens at once, in every process, until that instant.
    public static func failure(openUntil until: Timestamp) -> CallOutcome {
        CallOutcome(kind: .failure, openUntil: until)
    }

    /// Neither: no count changes, and a probe's lease is released for another probe. `CancellationError` is ignored.
    public static let ignored = CallOutcome(kind: .ignored)

    /// `success`, `failure` or `ignored`.
    public var description: String {
        switch kind {
        case .success: "success"
        case .failure: openUntil.map { "failure (open until \($0))" } ?? "failure"
        case .ignored: "ignored"
        }
    }
}

/// Classifies an error: returns how it counts, or `nil` to leave the decision to the next classifier.
///
/// The order is: the classifier registered for the circuit's base name, then the fallback classifier, then the
/// built-in rules (`CancellationError` is ignored; an ``ExpectableError`` whose `isExpected` is true and an
/// ``ExpectedError`` count as success; anything else is a failure).
public typealias OutcomeClassifier = @Sendable (any Error) -> CallOutcome?

/// An error that can say it is expected, so that it does not count against the upstream's health (a "not found"
/// answer, a validation error): the counterpart of the Go library's `IsExpected()`.
public protocol ExpectableError: Error {
    /// `true` when this error is a normal answer of a healthy upstream.
    var isExpected: Bool { get }
}

/// Wraps one error to mark it as expected: the breaker counts the call as a success and rethrows the wrapper.
///
/// ```swift
/// let item = try await breaker.execute {
///     do { return try await client.fetch(id) } catch let error as HTTPError where error.status == 404 {
///         throw ExpectedError(error)
///     }
/// }
/// ```
public struct ExpectedError: Error, @unchecked Sendable, CustomStringConvertible {
    // @unchecked: `any Error` is not Sendable as a type, but errors are thrown across tasks by design; the wrapper
    // never mutates or exposes the value except to read it.
    /// The error that was marked as expected.
    public let underlying: any Error

    /// Marks `error` as expected.
    public init(_ error: any Error) { self.underlying = error }

    /// The underlying error's description.
    public var description: String { "expected: \(underlying)" }
}

enum BuiltInClassification {
    static func classify(_ error: any Error) -> CallOutcome {
        switch error {
        case is CancellationError: .ignored
        case is ExpectedError: .success
        case let expectable as any ExpectableError where expectable.isExpected: .success
        default: .failure
        }
    }
}
