import ArgumentParser
import Circuitry
import Foundation
import Logging

/// Where the command writes: results to standard output, diagnostics as `circuitry: …` lines to standard error.
enum Console {
    /// Writes `text` and a newline to standard output at once (unbuffered), so that a pipe sees each line.
    static func out(_ text: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data((text + "\n").utf8))
    }

    /// Writes `circuitry: <message>` on one line to standard error.
    static func error(_ message: String) {
        try? FileHandle.standardError.write(contentsOf: Data(("circuitry: " + oneLine(message) + "\n").utf8))
    }

    /// The text with line breaks replaced by spaces: every diagnostic is one line.
    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }

    /// A logger that drops everything: for shell completion, which must print nothing but the candidates.
    static let silent = Logger(label: "circuitry", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// The one-line diagnostic for an error of the store: the cause, the path and what the store could not do.
///
/// A path that was meant as a PostgreSQL URL but is not one (`postgres//user:password@host/db`) is a SQLite path to
/// the store, which may quote it or its folder: for a path with anything that could be a password, the message is
/// left out, and the path is shown without it.
func storageMessage(_ error: CircuitStoreError) -> String {
    var shown = error
    if let location = error.location, !PasswordRedaction.hiddenParts(of: location).isEmpty {
        shown.location = PasswordRedaction.redacting(location)
        shown.message = "the path looks like a URL with a password; is it a mistyped postgres:// URL?"
    }
    var message = "cannot use the database (\(error.code)): \(shown)"
    if error.code == .missing { message += "; circuitry init creates it, and so does circuitry run" }
    return message
}

/// Runs a subcommand's body, turning the library's errors into one line on standard error and the documented
/// exit status (see ``ExitStatus``).
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CircuitStoreError {
        Console.error(storageMessage(error))
        throw ExitCode(status: ExitStatus.storage)
    } catch let rejection as CircuitRejected {
        Console.error(rejection.description)
        throw ExitCode(status: ExitStatus.rejected)
    } catch let error as NoSuchCircuit {
        Console.error(error.description)
        throw ExitCode(status: ExitStatus.noSuchCircuit)
    } catch let error as ConfigurationError {
        // Arguments are checked in `validate()`, which prints the usage too; this is a last line of defence.
        Console.error(error.description)
        throw ExitCode(status: ExitStatus.usage)
    }
}
