// What `circuitry-worker wait-for-lock` prints: written by the worker, read by the cross-process tests.

/// How a process fared while another process held the write lock: its heartbeat, its concurrent writes and reads.
package struct LockWaitReport: Codable, Sendable {
    /// One write: when it started and ended (ms after the writes were started together), and how it ended.
    package struct Write: Codable, Sendable {
        package var startedMs: Double
        package var endedMs: Double
        /// The store error's code (`busy`, …), or `nil` if the write succeeded.
        package var error: String?
        package var message: String?

        package init(startedMs: Double, endedMs: Double, error: String? = nil, message: String? = nil) {
            self.startedMs = startedMs
            self.endedMs = endedMs
            self.error = error
            self.message = message
        }
    }

    package var pid: Int32
    /// Heartbeat ticks (a task sleeping `tickMs` in a loop) while the writes waited, and the latest a tick came.
    package var ticks = 0
    package var tickMs = 0.0
    package var lateTickMaxMs = 0.0
    /// The latest a tick came before the writes started, for comparison.
    package var lateTickMaxBeforeMs = 0.0
    /// The latest a tick came, while the writes waited, of a heartbeat on a thread of its own (not the cooperative
    /// pool): how long the machine itself kept this process from running meanwhile.
    package var threadLateTickMaxMs = 0.0
    package var writes: [Write] = []
    /// Reads (admission of a closed circuit) answered while the writes waited, failed ones, and the slowest.
    package var reads = 0
    package var readErrors = 0
    package var slowestReadMs = 0.0

    package init(pid: Int32) {
        self.pid = pid
    }
}
