import Foundation

/// A task executor with a thread of its own, for tests that time asynchronous waits.
///
/// Every test of the target runs in one process and shares the cooperative pool (one thread per core), and some
/// tests block a thread of that pool for seconds (starting a PostgreSQL server, waiting for a subprocess). A test
/// whose tasks prefer this executor keeps running meanwhile, so that what it times is the store, not the pool.
///
/// `@unchecked Sendable`: `jobs` and `stopped` are only touched with `condition` locked.
final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    init() {
        Thread.detachNewThread { [self] in run() }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once the jobs enqueued so far have run.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            guard !jobs.isEmpty else {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs `body`, and the child tasks it starts, on a thread of their own (see ``OwnThreadExecutor``).
func onItsOwnThread<T: Sendable>(_ body: () async throws -> T) async throws -> T {
    let executor = OwnThreadExecutor()
    defer { executor.stop() }
    return try await withTaskExecutorPreference(executor) { try await body() }
}
