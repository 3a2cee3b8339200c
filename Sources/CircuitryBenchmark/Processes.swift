import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a worker process reports on its last line of output.
struct WorkerResult: Codable, Sendable {
    var operations = 0
    var seconds = 0.0
    var failures = 0
    var peakKiB = 0
    var currentKiB = 0
    var openNanoseconds: UInt64 = 0
    var busyWaitNanoseconds: UInt64 = 0
    var busyWaits: UInt64 = 0
}

/// Writes one line to standard output at once (unbuffered, so that the parent sees it now).
func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { return }
        offset += written
    }
}

/// Reads one line from a file descriptor, or `nil` at end of file.
func readLine(from descriptor: Int32) -> String? {
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
final class WorkerProcess {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    init(arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Self.executablePath)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    static var executablePath: String {
        #if os(Linux)
            if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Blocks until the worker says it is ready.
    func waitUntilReady() throws {
        guard let line = readLine(from: output.fileHandleForReading.fileDescriptor), line == "ready" else {
            throw Options.Invalid(description: "a worker did not get ready (\(process.arguments ?? []))")
        }
    }

    func go() {
        let bytes = Array("go\n".utf8)
        _ = bytes.withUnsafeBytes { write(input.fileHandleForWriting.fileDescriptor, $0.baseAddress, $0.count) }
    }

    /// Blocks until the worker prints its result and exits.
    func result() throws -> WorkerResult {
        var last: String?
        while let line = readLine(from: output.fileHandleForReading.fileDescriptor) { last = line }
        process.waitUntilExit()
        guard process.terminationStatus == 0, let last, let data = last.data(using: .utf8) else {
            throw Options.Invalid(
                description: "a worker failed (status \(process.terminationStatus)): \(process.arguments ?? [])")
        }
        return try JSONDecoder().decode(WorkerResult.self, from: data)
    }

    /// Ends a worker that is still running (after an error in the parent), so that none is left behind.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Starts `count` workers, releases them together once all are ready, and collects their results.
    static func runTogether(
        count: Int, arguments: (Int) -> [String], whileRunning: () async throws -> Void = {}
    ) async throws -> [WorkerResult] {
        var workers: [WorkerProcess] = []
        defer { for worker in workers { worker.stop() } }
        for index in 0..<count { workers.append(try WorkerProcess(arguments: arguments(index))) }
        for worker in workers { try worker.waitUntilReady() }
        for worker in workers { worker.go() }
        try await whileRunning()
        return try workers.map { try $0.result() }
    }
}
