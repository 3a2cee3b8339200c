import ArgumentParser

/// A duration on the command line: a whole number followed by a unit, as in `250ms`, `30s`, `5m` or `2h`.
package struct DurationArgument: Sendable, Hashable, CustomStringConvertible {
    /// The units accepted, and how many milliseconds each is.
    package static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000),
    ]

    /// The duration in milliseconds (at least 1).
    package let milliseconds: Int64

    /// The duration as a `Duration`.
    package var duration: Duration { .milliseconds(milliseconds) }

    /// The text that was parsed.
    package let description: String

    /// Parses `250ms`, `30s`, `5m`, `2h`; throws a ``ValidationError`` saying what is wrong otherwise.
    ///
    /// Use it as an option's `transform`, so that the message names the option and the value.
    package init(parsing text: String) throws(ValidationError) {
        let trimmed = text.trimmingWhitespace
        // "ms" must be tried before "m" and "s".
        guard let unit = Self.units.first(where: { trimmed.hasSuffix($0.suffix) }) else {
            throw Self.invalid(text, "it needs a unit: ms, s, m or h (as in 250ms, 30s, 5m, 2h)")
        }
        let digits = trimmed.dropLast(unit.suffix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw Self.invalid(text, "expected a whole number before the unit, as in 250ms, 30s, 5m, 2h")
        }
        guard let count = Int64(digits) else { throw Self.invalid(text, "it is too long") }
        let (product, overflow) = count.multipliedReportingOverflow(by: unit.milliseconds)
        guard !overflow, product <= Self.maximumMilliseconds else { throw Self.invalid(text, "it is too long") }
        guard product > 0 else { throw Self.invalid(text, "it must be longer than zero") }
        self.milliseconds = product
        self.description = String(trimmed)
    }

    /// About 100 years: long enough for "until further notice", short enough to add to any timestamp.
    package static let maximumMilliseconds: Int64 = 100 * 366 * 24 * 3_600_000

    private static func invalid(_ text: String, _ why: String) -> ValidationError {
        // ArgumentParser prefixes the option and the value: "The value '5x' is invalid for '--open-for <d>': …".
        ValidationError(why)
    }
}

extension String {
    package var trimmingWhitespace: Substring {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return self[first...last]
    }
}
