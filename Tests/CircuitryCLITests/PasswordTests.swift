import ArgumentParser
import CircuitryCLITestSupport
import CircuitryCommandLine
import CircuitryStores
import Foundation
import Testing

@testable import Circuitry
@testable import CircuitryCLI

/// No `circuitry` message shows a password, whatever the shape of the `--db` value: a URL that does not parse is
/// quoted without it, and one that is not recognised as a URL at all is a SQLite path whose messages hide it too.
@Suite struct PasswordTests {
    static let shapes = PasswordShape.generate(count: 1000, seed: 0xC11)

    @Test func messagesAboutTheDatabaseNeverShowThePassword() throws {
        var leaks: [String] = []
        for shape in Self.shapes {
            var shown: [String] = []
            do {
                let options = try StoreOptions.parse(["--db", shape.text])
                shown.append(try options.displayLocation)
            } catch {
                shown.append(StoreOptions.message(for: error))
            }
            if case .sqlite(let path)? = (try? StoreLocation(shape.text))?.kind {
                // What the SQLite store says about a path whose folder does not exist.
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
                shown.append(
                    storageMessage(
                        CircuitStoreError(
                            code: .cannotOpen, message: "the folder \(folder) does not exist", location: path)))
            }
            for text in shown where text.contains(shape.secret) { leaks.append("\(shape) → \(text)") }
        }
        #expect(leaks.isEmpty, "\(leaks.count) leak, e.g. \(leaks.prefix(5))")
    }

    /// The command itself, on malformed values (a well-formed URL would connect to a server, which this is not
    /// about): standard output and error never show the password.
    @Test func theCommandNeverPrintsThePassword() async throws {
        let cli = try CLIHarness()
        let malformed = Self.shapes.filter { shape in
            guard let location = try? StoreLocation(shape.text) else { return true }
            if case .sqlite = location.kind { return true }
            return false
        }
        for shape in malformed.prefix(24) {
            for arguments in [["list"], ["reset", "x"], ["trip", "x", "--for", "1m"]] {
                // In a folder of the test's own, in case a value is a path SQLite can create.
                let result = try await cli.launchProcess(
                    "/bin/sh",
                    ["-c", "cd \"$0\" && exec \"$@\"", cli.folder.path, CLIHarness.binary.path]
                        + arguments + ["--db", shape.text]
                ).wait(timeout: .seconds(30))
                #expect(!result.stdout.contains(shape.secret), "\(shape) \(arguments): \(result)")
                #expect(!result.stderr.contains(shape.secret), "\(shape) \(arguments): \(result)")
            }
        }
    }
}

extension StoreOptions {
    /// The message ArgumentParser prints for an error of parsing or validation.
    static func message(for error: any Error) -> String {
        Self.fullMessage(for: error)
    }
}
