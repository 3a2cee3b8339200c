import Foundation
import Testing

extension CLIHarness {
    /// Runs `body` while another process holds the write lock of ``databasePath``: the `sqlite3` shell, inside
    /// `BEGIN IMMEDIATE`, until its input closes when `body` returns.
    package func whileWriteLocked<T>(
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
    ) async throws -> T {
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["sqlite3", databasePath]
        let input = Pipe()
        let outputPath = path("lock-holder-\(UUID())")
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        holder.standardInput = input
        holder.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        try holder.run()
        defer {
            try? input.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        input.fileHandleForWriting.write(Data("BEGIN IMMEDIATE;\nSELECT 'locked';\n".utf8))
        let locked = await eventually {
            (try? String(contentsOfFile: outputPath, encoding: .utf8))?.contains("locked") == true
        }
        try #require(locked, "the sqlite3 shell took the write lock", sourceLocation: sourceLocation)
        return try await body()
    }
}
