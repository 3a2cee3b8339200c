import ArgumentParser
import Foundation
import Logging

/// `--log-level LEVEL` and `-v`: how much of the library's logs (and its store clients') `circuitry` shows on
/// standard error. The default shows warnings and worse, which the library does not emit in normal operation: the
/// command reports failures itself, in one line each.
struct LoggingOptions: ParsableArguments {
    /// A log level, as typed.
    enum Level: String, CaseIterable, ExpressibleByArgument {
        case trace, debug, info, notice, warning, error, critical

        var level: Logger.Level {
            switch self {
            case .trace: .trace
            case .debug: .debug
            case .info: .info
            case .notice: .notice
            case .warning: .warning
            case .error: .error
            case .critical: .critical
            }
        }
    }

    @Option(
        help: ArgumentHelp(
            "Show the library's logs from this level up on standard error (default warning).", valueName: "level"))
    var logLevel: Level?

    @Flag(name: .shortAndLong, help: "Show more logs: -v info, -vv debug, -vvv trace.")
    var verbose: Int

    /// The more detailed of `--log-level` and `-v`.
    var level: Logger.Level {
        let fromFlag: Logger.Level =
            switch verbose {
            case 0: .warning
            case 1: .info
            case 2: .debug
            default: .trace
            }
        return min(logLevel?.level ?? .warning, fromFlag)
    }

    /// The logger the subcommand hands to the library: lines on standard error, each starting with `circuitry: `.
    var logger: Logger {
        var logger = Logger(label: "circuitry", factory: { ConsoleLogHandler(label: $0) })
        logger.logLevel = level
        return logger
    }
}

/// Writes log records to standard error, one line each, as every other line `circuitry` writes there:
/// `circuitry: debug: circuit is now open (circuitry.circuit=upstream, circuitry.reason=3 consecutive failures)`.
///
/// `circuitry` is an application, so it decides where logs go; the library only takes a `Logger`.
struct ConsoleLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        var text = "\(event.level): \(event.message)"
        if !all.isEmpty {
            text += " (" + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
        }
        Console.error(text)
    }
}
