import Foundation
import Synchronization
import Testing

@testable import Circuitry

/// While another connection holds the write lock, a store's writes wait asynchronously: each ends at its own bound,
/// together, and the store keeps answering reads meanwhile.
@Suite struct SQLiteWaitingTests {
    @Test func concurrentWritesEndTogetherAtTheBoundWhileReadsGoOn() async throws {
        try await onItsOwnThread {
            let folder = try TemporaryFolder()
            let path = folder.path("waits.sqlite")
            let bound = 300.0
            let store = try SQLiteCircuitStore(path: path, configuration: .init(busyTimeout: .milliseconds(Int(bound))))
            defer { store.close() }
            try await store.addFailure("reads")
            let holder = try SQLiteBusyTests.LockHolder(path)

            let started = ContinuousClock.now
            let writesDone = Mutex(false)
            async let reads: (count: Int, slowest: Double) = {
                var count = 0
                var slowest = 0.0
                while !writesDone.withLock({ $0 }) {
                    let asked = ContinuousClock.now
                    if try await store.read("reads").record?.counts.failures == 1 { count += 1 }
                    slowest = max(slowest, milliseconds(since: asked))
                    try await Task.sleep(for: .milliseconds(2))
                }
                return (count, slowest)
            }()
            let writes = await withTaskGroup(of: (ended: Double, error: CircuitStoreError?).self) { group in
                for index in 0..<4 {
                    group.addTask {
                        do {
                            try await store.addFailure("writes-\(index)")
                            return (milliseconds(since: started), nil)
                        } catch {
                            return (milliseconds(since: started), error as? CircuitStoreError)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            writesDone.withLock { $0 = true }
            let (readCount, slowestRead) = try await reads
            try holder.release()

            let ends = writes.map(\.ended).sorted()
            #expect(writes.allSatisfy { $0.error?.code == .busy && $0.error?.sql == "BEGIN IMMEDIATE" }, "\(writes)")
            #expect(ends.first! >= bound, "a write gave up before the bound: \(ends)")
            // Each write waits for itself: they end together, at the bound, not one bound after another.
            #expect(ends.last! < bound + 300, "writes ended at \(ends) ms")
            #expect(ends.last! - ends.first! < 150, "writes ended at \(ends) ms")
            // Reads do not queue behind the waiting writes.
            #expect(readCount >= 10, "\(readCount) reads answered while the writes waited")
            #expect(slowestRead < 100, "slowest read \(slowestRead) ms")
            #expect(store.busyWaits.count > 0)
        }
    }

    @Test func aCancelledCallStillWaitsForTheLockAndWrites() async throws {
        let folder = try TemporaryFolder()
        let path = folder.path("cancelled.sqlite")
        let store = try SQLiteCircuitStore(path: path, configuration: .init(busyTimeout: .seconds(5)))
        defer { store.close() }
        let holder = try SQLiteBusyTests.LockHolder(path)
        // Recording an outcome after the work ran must complete even if the caller's task was cancelled meanwhile.
        let write = Task { try await store.addFailure("x") }
        write.cancel()
        // The other connection lets go after 100 ms of real time, on a thread of its own.
        let released = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            usleep(100_000)
            try? holder.release()
            released.signal()
        }
        let started = ContinuousClock.now
        #expect(try await write.value == 1)
        released.wait()
        #expect(milliseconds(since: started) >= 50, "the write did not wait for the lock")
        #expect(try await store.read("x").record?.counts.failures == 1)
    }
}
