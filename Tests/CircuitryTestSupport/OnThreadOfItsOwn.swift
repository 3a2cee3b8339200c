import Foundation

/// Runs `body` on a thread of its own and waits for it without holding a thread of the cooperative pool.
///
/// For test support that must block: starting a server with `initdb`, waiting for a process with `waitUntilExit`,
/// polling with `usleep`. On 2 cores the cooperative pool has 2 threads; one blocked for seconds stalls every other
/// test's awaits in the same process, and timing bounds then measure the test support instead of the code.
package func onThreadOfItsOwn<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}
