/// Runs `operation` in a task of its own, which the caller's cancellation does not reach, and waits for it.
///
/// For stores whose I/O ends early when its task is cancelled (an HTTP request, a socket read): recording an
/// outcome and flushing from a task that is being cancelled must still complete, bounded by the store's own
/// deadline (DESIGN: "Recording an outcome and flushing complete even when the caller's task is cancelled").
/// `operation` never outlives the call: it is released inside the task before the task ends, and the caller waits.
package func withoutCancellation<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
    try await withoutActuallyEscaping(operation) { operation in
        let box = OperationBox(operation)
        let task = Task {
            defer { box.release() }
            return try await box.run()
        }
        return try await task.value
    }
}

/// Holds the operation for its task.
///
/// `@unchecked Sendable`: only the task reads and releases `operation`, and the caller of ``withoutCancellation(_:)``
/// waits for that task to end before the closure goes out of scope.
private final class OperationBox<T>: @unchecked Sendable {
    private var operation: (() async throws -> T)?

    init(_ operation: @escaping () async throws -> T) {
        self.operation = operation
    }

    func run() async throws -> T {
        guard let operation else { throw CancellationError() }
        return try await operation()
    }

    func release() {
        operation = nil
    }
}
