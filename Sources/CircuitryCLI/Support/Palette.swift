import ArgumentParser
import Circuitry
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--color auto|always|never`.
enum ColorMode: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// On a terminal, unless `NO_COLOR` is set to something (https://no-color.org) or `TERM` is `dumb`.
    case auto
    case always
    case never
}

/// The colours of `list` and `show`: the state's, on a terminal only.
struct Palette: Sendable {
    /// Whether to colour at all.
    var enabled: Bool

    /// The palette for standard output: `--color`, else whether it is a terminal, `NO_COLOR` and `TERM`.
    static func forStandardOutput(
        _ mode: ColorMode, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Palette {
        switch mode {
        case .always: return Palette(enabled: true)
        case .never: return Palette(enabled: false)
        case .auto:
            let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
            return Palette(enabled: isatty(STDOUT_FILENO) == 1 && !noColor && environment["TERM"] != "dumb")
        }
    }

    /// `text` in the colour of `state`: open red, half-open yellow, closed green.
    func paint(_ text: String, as state: CircuitState) -> String {
        switch state {
        case .open: paint(text, "1;31")
        case .halfOpen: paint(text, "1;33")
        case .closed: paint(text, "32")
        }
    }

    /// `text` in bold.
    func bold(_ text: String) -> String { paint(text, "1") }

    /// `text` faint, for what matters less.
    func faint(_ text: String) -> String { paint(text, "2") }

    private func paint(_ text: String, _ code: String) -> String {
        enabled && !text.isEmpty ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}
