import Foundation

/// A wall-clock instant with millisecond resolution: milliseconds since 1970-01-01T00:00:00Z.
///
/// Every process of a host shares the wall clock, so a timestamp written by one process means the same instant
/// to every other. Stores keep timestamps as integers; the `sqlite3` view shows them as ISO 8601 text.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var millisecondsSince1970: Int64

    /// Creates a timestamp from milliseconds since 1970-01-01T00:00:00Z.
    public init(millisecondsSince1970: Int64) {
        self.millisecondsSince1970 = millisecondsSince1970
    }

    /// Creates a timestamp from a `Date`, rounded down to the millisecond (saturating at the ends of the range; a
    /// `Date` that is not a number reads as 1970).
    public init(_ date: Date) {
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded(.down)
        // `Int64(_:)` traps outside its range; 2^63 is exactly representable as a Double, Int64.max is not.
        if milliseconds.isNaN {
            self.millisecondsSince1970 = 0
        } else if milliseconds >= 0x1p63 {
            self.millisecondsSince1970 = .max
        } else if milliseconds < -0x1p63 {
            self.millisecondsSince1970 = .min
        } else {
            self.millisecondsSince1970 = Int64(milliseconds)
        }
    }

    /// The same instant as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(millisecondsSince1970) / 1000) }

    /// The instant in ISO 8601 with milliseconds, in UTC: `2026-11-29T12:30:05.250Z`.
    public var description: String {
        // A `Date` holds seconds as a Double, and its format style truncates: 46.738 s is 46.7379999… and prints as
        // .737. So the style prints the whole seconds and the milliseconds come from the integer, as stored (and as
        // the `circuit_status` view shows them).
        var (seconds, milliseconds) = millisecondsSince1970.quotientAndRemainder(dividingBy: 1000)
        if milliseconds < 0 {
            seconds -= 1
            milliseconds += 1000
        }
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Self.iso8601)  // 2026-11-29T12:30:05Z
        let fraction = String(milliseconds + 1000).dropFirst()  // 3 digits
        return "\(whole.dropLast()).\(fraction)Z"
    }

    private static let iso8601 = Date.ISO8601FormatStyle()

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSince1970 < rhs.millisecondsSince1970
    }

    /// The instant `duration` later (saturating at the ends of the range instead of overflowing).
    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(millisecondsSince1970: lhs.millisecondsSince1970.saturatingAdd(rhs.milliseconds))
    }

    /// The instant `duration` earlier (saturating at the ends of the range instead of overflowing).
    public static func - (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(millisecondsSince1970: lhs.millisecondsSince1970.saturatingSubtract(rhs.milliseconds))
    }

    /// The time from `rhs` to `lhs` (saturating at ±2^63 − 1 ms instead of overflowing).
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Duration {
        .milliseconds(lhs.millisecondsSince1970.saturatingSubtract(rhs.millisecondsSince1970))
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded toward zero, saturating at `Int64.min` and `Int64.max`. `package`,
    /// so that every store converts durations the same way.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        return ms.saturatingAdd(attoseconds / 1_000_000_000_000_000)
    }
}

extension Int64 {
    /// `self + other`, clamped to `Int64.min ... Int64.max`.
    func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other < 0 ? .min : .max
    }

    /// `self * other`, clamped to `Int64.min ... Int64.max`.
    func saturatingMultiply(_ other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }

    /// `self - other`, clamped to `Int64.min ... Int64.max`.
    func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other < 0 ? .max : .min
    }
}
