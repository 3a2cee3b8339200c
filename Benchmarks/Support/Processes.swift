import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a worker process reports on its last line of output.
package struct WorkerResult: Codable, Sendable {
    package var operations = 0
    package var seconds = 0.0
    package var failures = 0
    package var peakKiB = 0
    package var currentKiB = 0
    package var openNanoseconds: UInt64 = 0
    package var busyWaitNanoseconds: UInt64 = 0
    package var busyWaits: UInt64 = 0

    package init(
        operations: Int = 0, seconds: Double = 0, failures: Int = 0, peakKiB: Int = 0, currentKiB: Int = 0,
        openNanoseconds: UInt64 = 0, busyWaitNanoseconds: UInt64 = 0, busyWaits: UInt64 = 0
    ) {
        self.operations = operations
        self.seconds = seconds
        self.failures = failures
        self.peakKiB = peakKiB
        self.currentKiB = currentKiB
        self.openNanoseconds = openNanoseconds
        self.busyWaitNanoseconds = busyWaitNanoseconds
        self.busyWaits = busyWaits
    }
}

/// Writes one line to standard output at once (unbuffered, so that the parent sees it now).
package func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}

/// Reads one line from a file descriptor, or `nil` at end of file.
package func readLine(from descriptor: Int32) -> String? {
    var bytes: [UInt8] = []
    var byte: UInt8 = 0
    while read(descriptor, &byte, 1) == 1 {
        if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
        bytes.append(byte)
    }
    return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
}

/// A copy of this benchmark running as a worker: it prints `ready`, waits for `go` on its standard input, runs,
/// and prints a ``WorkerResult`` as JSON.
package final class WorkerProcess {
    package let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    /// Starts `executable` (by default this benchmark itself) with `arguments`; it must follow the same protocol.
    package init(executable: String = WorkerProcess.executablePath, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    package static var executablePath: String {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Blocks until the worker says it is ready.
    package func waitUntilReady() throws {
        guard let line = readLine(from: output.fileHandleForReading.fileDescriptor), line == "ready" else {
            throw BenchmarkFailure(description: "a worker did not get ready (\(process.arguments ?? []))")
        }
    }

    package func go() {
        let bytes = Array("go\n".utf8)
        _ = bytes.withUnsafeBytes { write(input.fileHandleForWriting.fileDescriptor, $0.baseAddress, $0.count) }
    }

    /// Blocks until the worker prints its result and exits.
    package func result() throws -> WorkerResult {
        var last: String?
        while let line = readLine(from: output.fileHandleForReading.fileDescriptor) { last = line }
        process.waitUntilExit()
        guard process.terminationStatus == 0, let last, let data = last.data(using: .utf8) else {
            throw BenchmarkFailure(
                description: "a worker failed (status \(process.terminationStatus)): \(process.arguments ?? [])")
        }
        return try JSONDecoder().decode(WorkerResult.self, from: data)
    }

    /// Ends a worker that is still running (after an error in the parent), so that none is left behind.
    package func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Starts `count` workers, releases them together once all are ready, and collects their results.
    package static func runTogether(
        count: Int, executable: String = WorkerProcess.executablePath, arguments: (Int) -> [String],
        whileRunning: () async throws -> Void = {}
    ) async throws -> [WorkerResult] {
        var workers: [WorkerProcess] = []
        defer { for worker in workers { worker.stop() } }
        for index in 0..<count {
            workers.append(try WorkerProcess(executable: executable, arguments: arguments(index)))
        }
        for worker in workers { try worker.waitUntilReady() }
        for worker in workers { worker.go() }
        try await whileRunning()
        return try workers.map { try $0.result() }
    }
}

/// The worker's side of the barrier: says `ready`, then waits for `go` from the parent.
package func waitForGo() throws {
    emit("ready")
    guard Swift.readLine() == "go" else { throw BenchmarkFailure(description: "no go from the parent") }
}

/// What a worker's timed loop did.
package struct CallLoop: Sendable {
    package var operations = 0
    package var failures = 0
    package var seconds = 0.0
    /// Each call's latency in nanoseconds, in call order; empty unless asked for.
    package var samples: [UInt64] = []

    /// Makes calls one after another for `seconds`; `call` returns whether it was one of the failing calls.
    /// With `recordSamples`, each call's latency is kept (room is reserved for `expectedCalls`).
    package static func run(
        seconds: Double, recordSamples: Bool = false, expectedCalls: Int = 0, _ call: () async throws -> Bool
    ) async rethrows -> CallLoop {
        var loop = CallLoop()
        if recordSamples { loop.samples.reserveCapacity(expectedCalls) }
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        var now = start
        while now < deadline {
            if try await call() { loop.failures += 1 }
            loop.operations += 1
            let after = monotonicNanoseconds()
            if recordSamples { loop.samples.append(after - now) }
            now = after
        }
        loop.seconds = Double(now - start) / 1e9
        return loop
    }
}

/// Per-call latencies as a file of native 64-bit nanoseconds: how workers hand them to the parent.
package enum LatencySamples {
    package static func write(_ samples: [UInt64], to path: String) throws {
        try samples.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
    }

    /// The samples of every file in `paths`, sorted; the files are removed.
    package static func collect(_ paths: [String]) throws -> [UInt64] {
        var samples: [UInt64] = []
        for path in paths {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            samples += data.withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }
            try? FileManager.default.removeItem(atPath: path)
        }
        return samples.sorted()
    }
}
