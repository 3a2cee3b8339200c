import ArgumentParser
import Circuitry
import CircuitryWorkerReport
import Foundation
import Synchronization

/// Run while another process holds the write lock: starts a heartbeat task, then several writes (failures recorded
/// on circuits of their own) at once, and reads (admissions) in a loop until the writes end; reports how late the
/// heartbeat ticked, when each write ended and how, and how the reads fared.
///
/// A store that waited for the lock in a thread of the cooperative pool, holding its own lock, would stall the
/// heartbeat and the reads, and end the writes one after another. A second heartbeat on a thread of its own ticks at
/// the same time: how late it comes is the machine's own doing (another process on the core), not the pool's.
struct WaitForLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait-for-lock",
        abstract: "Make concurrent writes and reads while another process holds the write lock, and time them.")

    @OptionGroup var breaker: BreakerOptions

    @Option(help: "Concurrent writes.")
    var writes: Int = 4

    @Option(help: "The heartbeat's period, in milliseconds.")
    var tickMs: Int = 5

    @Option(help: "Pause between two reads, in milliseconds.")
    var readPauseMs: Int = 2

    func run() async throws {
        // Opened before the barrier: the test takes the write lock once every waiter is ready.
        try await breaker.withFactory(callbacks: CallbackLog()) { _, factory in
            // A circuit's first admission writes its record: made now, so that the reads below are plain reads.
            _ = try await factory.breaker(for: "reads").acquire()
            try breaker.barrier.arriveAndWait()
            try await measure(factory)
        }
    }

    private func measure(_ factory: BreakerFactory) async throws {
        var report = LockWaitReport(pid: getpid())
        let heartbeat = Heartbeat(period: .milliseconds(tickMs))
        let beating = Task { await heartbeat.run() }
        let threadHeartbeat = Heartbeat(period: .milliseconds(tickMs))
        Thread.detachNewThread { threadHeartbeat.runOnThisThread() }
        // A quarter second of heartbeat before the writes: the machine's own scheduling delay, for comparison.
        try await Task.sleep(for: .milliseconds(250))
        report.lateTickMaxBeforeMs = heartbeat.takeLatest()
        _ = threadHeartbeat.takeLatest()

        let started = ContinuousClock.now
        let writesDone = Atomic(false)
        async let reads = readUntil(writesDone, factory: factory)
        report.writes = await withTaskGroup(of: LockWaitReport.Write.self) { group in
            for index in 0..<writes {
                group.addTask { await Self.write(index, factory: factory, since: started) }
            }
            var all: [LockWaitReport.Write] = []
            for await write in group { all.append(write) }
            return all.sorted { $0.endedMs < $1.endedMs }
        }
        writesDone.store(true, ordering: .relaxed)
        (report.reads, report.readErrors, report.slowestReadMs) = await reads
        report.lateTickMaxMs = heartbeat.takeLatest()
        report.threadLateTickMaxMs = threadHeartbeat.takeLatest()
        report.ticks = heartbeat.ticks
        report.tickMs = Double(tickMs)
        heartbeat.stop()
        threadHeartbeat.stop()
        await beating.value
        try emit(report)
    }

    /// Records one failure on circuit `writes-<index>`: admission is a read, the failure a write transaction.
    private static func write(_ index: Int, factory: BreakerFactory, since start: ContinuousClock.Instant) async
        -> LockWaitReport.Write
    {
        let begun = milliseconds(since: start)
        do {
            let circuit = try factory.breaker(for: "writes-\(index)")
            let permit = try await circuit.acquire()
            try await circuit.record(error: UpstreamDown(), for: permit)
            return LockWaitReport.Write(startedMs: begun, endedMs: milliseconds(since: start))
        } catch let error as CircuitStoreError {
            return LockWaitReport.Write(
                startedMs: begun, endedMs: milliseconds(since: start), error: error.code.description,
                message: error.description)
        } catch {
            return LockWaitReport.Write(
                startedMs: begun, endedMs: milliseconds(since: start), error: "other", message: "\(error)")
        }
    }

    /// Admissions of a closed circuit (plain reads) until `done`: how many, how many failed, the slowest.
    private func readUntil(_ done: borrowing Atomic<Bool>, factory: BreakerFactory) async -> (Int, Int, Double) {
        var reads = 0
        var errors = 0
        var slowest = 0.0
        while !done.load(ordering: .relaxed) {
            let asked = ContinuousClock.now
            do {
                _ = try await factory.breaker(for: "reads").acquire()
                reads += 1
            } catch {
                errors += 1
            }
            slowest = max(slowest, milliseconds(since: asked))
            try? await Task.sleep(for: .milliseconds(readPauseMs))
        }
        return (reads, errors, slowest)
    }
}

/// A task (or a thread) that sleeps `period` in a loop and keeps how late the latest tick came.
final class Heartbeat: Sendable {
    private struct State {
        var latest = 0.0
        var ticks = 0
        var stopped = false
    }

    let period: Duration
    private let state = Mutex(State())

    init(period: Duration) { self.period = period }

    /// Ticks on the cooperative pool.
    func run() async {
        var last = ContinuousClock.now
        while !state.withLock({ $0.stopped }) {
            try? await Task.sleep(for: period)
            tick(since: &last)
        }
    }

    /// Ticks on the calling thread, which must be a thread of its own: it sleeps.
    func runOnThisThread() {
        var last = ContinuousClock.now
        let (seconds, attoseconds) = period.components
        while !state.withLock({ $0.stopped }) {
            usleep(useconds_t(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
            tick(since: &last)
        }
    }

    private func tick(since last: inout ContinuousClock.Instant) {
        let now = ContinuousClock.now
        let late = now - last - period
        last = now
        let lateMs = Double(late.components.seconds) * 1000 + Double(late.components.attoseconds) / 1e15
        state.withLock {
            $0.latest = max($0.latest, lateMs)
            $0.ticks += 1
        }
    }

    /// The latest a tick came since the last call, in milliseconds.
    func takeLatest() -> Double {
        state.withLock { state in
            defer { state.latest = 0 }
            return state.latest
        }
    }

    var ticks: Int { state.withLock { $0.ticks } }

    func stop() { state.withLock { $0.stopped = true } }
}
