import ArgumentParser

/// A duration on the command line, in the forms people, Go and systemd write: a number and a unit, or several from
/// the largest unit to the smallest, as in `500ms`, `90s`, `1.5s`, `5m`, `1h30m`, `2d`, `1w`, `1h 30min`.
///
/// Every duration option of `circuitry` (and of the programs that share its options) parses with
/// ``init(parsing:)``, and every duration `circuitry` prints is ``description``, which parses back to the same
/// value. Durations are whole milliseconds, from 1 ms to about 100 years.
///
/// Refused, with a message that gives the accepted forms: a bare number (`90`: seconds or minutes?), an unknown or
/// upper-case unit (`5x`, `1M`: a minute or a month?), a unit given twice or after a smaller one (`1m1h`), a sign,
/// zero, a part of a millisecond (`1.5ms`), and anything longer than ``maximumMilliseconds``.
package struct DurationArgument: Sendable, Hashable, CustomStringConvertible {
    /// A unit: the names it may be written with (the first is the one printed) and how many milliseconds it is.
    package struct Unit: Sendable {
        package let names: [String]
        package let milliseconds: Int64
    }

    /// The units, largest first. `m` is a minute, as in Go and systemd; there are no months or years, whose length
    /// varies.
    package static let units: [Unit] = [
        Unit(names: ["w"], milliseconds: 7 * 86_400_000),
        Unit(names: ["d"], milliseconds: 86_400_000),
        Unit(names: ["h"], milliseconds: 3_600_000),
        Unit(names: ["m", "min"], milliseconds: 60_000),
        Unit(names: ["s"], milliseconds: 1000),
        Unit(names: ["ms"], milliseconds: 1),
    ]

    /// The accepted forms, for messages and help.
    package static let acceptedForms =
        "a number and a unit (ms, s, m or min, h, d, w), several from the largest unit down, as in 500ms, 90s, "
        + "1.5s, 1h30m, 2d, 1w"

    /// About 100 years: long enough for "until further notice", short enough to add to any timestamp.
    package static let maximumMilliseconds: Int64 = 100 * 366 * 86_400_000

    /// The duration in milliseconds (at least 1).
    package let milliseconds: Int64

    /// The duration as a `Duration`.
    package var duration: Duration { .milliseconds(milliseconds) }

    /// The duration in the canonical form: units from the largest down, each once, as in `1h30m`, `1.5s`, `500ms`,
    /// `2d`, `1w1d`. It parses back to the same value.
    package var description: String { Self.format(milliseconds: milliseconds) }

    /// A duration of `milliseconds`, which must be from 1 to ``maximumMilliseconds``.
    package init(milliseconds: Int64) {
        precondition((1...Self.maximumMilliseconds).contains(milliseconds), "a duration out of range")
        self.milliseconds = milliseconds
    }

    /// Parses a duration; throws a ``ValidationError`` saying what is wrong and what is accepted otherwise.
    ///
    /// Use it as an option's `transform`, so that ArgumentParser's message names the option and the value:
    /// `The value '90' is invalid for '--open-for <duration>': it needs a unit; expected …`.
    package init(parsing text: String) throws(ValidationError) {
        let trimmed = text.trimmingWhitespace
        guard !trimmed.isEmpty else { throw Self.invalid("it is empty") }
        var total: Int64 = 0
        var smallestSoFar: Int64?
        var rest = trimmed[...]
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unitText.count)
            // systemd prints "1h 30min": spaces may separate the parts.
            rest = rest.drop { $0 == " " }
            guard !number.isEmpty else {
                guard !unitText.isEmpty else { throw Self.invalid("\(Self.quoted(text)) is not a duration") }
                throw Self.invalid("\(Self.quoted(String(unitText))) has no number before it")
            }
            guard !unitText.isEmpty else {
                guard rest.isEmpty else { throw Self.invalid("\(Self.quoted(text)) is not a duration") }
                throw Self.invalid("\(Self.quoted(String(number))) needs a unit (seconds? minutes?)")
            }
            guard let unit = Self.units.first(where: { $0.names.contains(String(unitText)) }) else {
                throw Self.invalid("\(Self.quoted(String(unitText))) is not a unit")
            }
            if let smallestSoFar, unit.milliseconds >= smallestSoFar {
                throw Self.invalid("units go from the largest to the smallest, each once")
            }
            smallestSoFar = unit.milliseconds
            let part = try Self.milliseconds(of: number, unit: unit, text: text)
            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow, sum <= Self.maximumMilliseconds else { throw Self.tooLong }
            total = sum
        }
        guard total > 0 else { throw Self.invalid("it must be longer than zero") }
        self.milliseconds = total
    }

    /// `number` (digits with at most one `.`) of `unit`, in whole milliseconds, computed exactly.
    private static func milliseconds(of number: Substring, unit: Unit, text: String) throws(ValidationError) -> Int64 {
        let pieces = number.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count <= 2, !(pieces.first?.isEmpty ?? true) || pieces.count == 2,
            !pieces.allSatisfy(\.isEmpty)
        else { throw Self.invalid("\(Self.quoted(String(number))) is not a number") }
        // Leading zeros are harmless; dropping them keeps `Int64(...)` to what matters.
        let whole = pieces[0].drop { $0 == "0" }
        var fraction = pieces.count == 2 ? pieces[1][...] : ""
        while fraction.last == "0" { fraction = fraction.dropLast() }
        guard whole.count <= 18, let wholeValue = whole.isEmpty ? 0 : Int64(whole) else { throw Self.tooLong }
        let (wholeMilliseconds, overflow) = wholeValue.multipliedReportingOverflow(by: unit.milliseconds)
        guard !overflow else { throw Self.tooLong }
        guard !fraction.isEmpty else { return wholeMilliseconds }
        // fraction / 10^k of the unit is a whole number of milliseconds iff 10^k / gcd(unit, 10^k) divides it.
        guard fraction.count <= 18, let digits = Int64(fraction) else { throw Self.finerThanAMillisecond(text) }
        var power: Int64 = 1
        for _ in 0..<fraction.count { power *= 10 }
        let common = gcd(unit.milliseconds, power)
        let (denominator, factor) = (power / common, unit.milliseconds / common)
        guard digits % denominator == 0 else { throw Self.finerThanAMillisecond(text) }
        let (fractionMilliseconds, fractionOverflow) = (digits / denominator).multipliedReportingOverflow(by: factor)
        let (sum, sumOverflow) = wholeMilliseconds.addingReportingOverflow(fractionMilliseconds)
        guard !fractionOverflow, !sumOverflow else { throw Self.tooLong }
        return sum
    }

    /// The canonical form of a duration (see ``description``): `1w2d3h4m5.5s`, `1m500ms`, `250ms`. Negative durations
    /// have a `-` before them; zero is `0s`.
    package static func format(milliseconds: Int64) -> String {
        guard milliseconds != 0 else { return "0s" }
        // The magnitude of Int64.min does not fit in an Int64.
        var rest = milliseconds.magnitude
        var text = milliseconds < 0 ? "-" : ""
        for unit in units where unit.milliseconds >= 60_000 {
            let count = rest / UInt64(unit.milliseconds)
            if count > 0 { text += "\(count)\(unit.names[0])" }
            rest %= UInt64(unit.milliseconds)
        }
        let (seconds, millis) = rest.quotientAndRemainder(dividingBy: 1000)
        if seconds > 0 {
            var fraction = String(millis + 1000).dropFirst()
            while fraction.last == "0" { fraction = fraction.dropLast() }
            text += "\(seconds)" + (fraction.isEmpty ? "" : "." + fraction) + "s"
        } else if millis > 0 {
            text += "\(millis)ms"
        }
        return text
    }

    /// The canonical form of a `Duration`, rounded toward zero to the millisecond.
    package static func format(_ duration: Duration) -> String { format(milliseconds: duration.milliseconds) }

    /// A duration as an operator reads it at a glance: its two largest units (`3m12s`, `2h5m`, `4d3h`), whole
    /// seconds from a second up, milliseconds below. It parses back, to a value at most the next unit down shorter.
    package static func roughly(milliseconds: Int64) -> String {
        let magnitude = milliseconds.magnitude
        guard magnitude >= 1000 else { return format(milliseconds: milliseconds) }
        var rest = magnitude / 1000 * 1000
        var kept = 0
        var value: UInt64 = 0
        for unit in units where unit.milliseconds >= 1000 {
            let size = UInt64(unit.milliseconds)
            if rest >= size || kept > 0 {
                value += rest / size * size
                kept += 1
                if kept == 2 { break }
            }
            rest %= size
        }
        return format(milliseconds: milliseconds < 0 ? -Int64(value) : Int64(value))
    }

    private static func invalid(_ why: String) -> ValidationError {
        // ArgumentParser puts the option and the value first: "The value '5x' is invalid for '--open-for <d>': …".
        ValidationError("\(why); expected \(acceptedForms)")
    }

    private static var tooLong: ValidationError {
        invalid("it is too long (at most \(format(milliseconds: maximumMilliseconds)))")
    }

    private static func finerThanAMillisecond(_ text: String) -> ValidationError {
        invalid("\(quoted(text)) is not a whole number of milliseconds")
    }

    private static func quoted(_ text: String) -> String { "\"\(text)\"" }
}

private func gcd(_ a: Int64, _ b: Int64) -> Int64 {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
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
