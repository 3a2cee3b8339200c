/// Hides whatever could be a password in text that names a database: a connection URL, well formed or not, or a
/// path that was meant as one.
///
/// It works on the text's shape, not on a parse, so that a URL too malformed to parse is hidden as well: what comes
/// after the first `:` of the user part and before the last `@` is replaced by `***`, and so is everything after a
/// `password=` parameter. It hides more than the password when unsure (a user, a host), never less.
///
/// `package`: the stores' errors and the `circuitry` command's messages use the one rule.
package enum PasswordRedaction {
    /// What replaces a hidden part.
    package static let mask = "***"

    /// `text` with anything that could be a password replaced by `***`.
    ///
    /// - `postgres://alice:s3cr3t@db/jobs` → `postgres://alice:***@db/jobs`
    /// - `postgres:/alice:s3cr3t@db/jobs` → `postgres:/alice:***@db/jobs`
    /// - `postgres//alice:s3cr3t@db/jobs` → `postgres//alice:***@db/jobs`
    /// - `postgres://alice:s3cr3t/jobs` (no `@`, and not a port) → `postgres://alice:***/jobs`
    /// - `postgres://alice@db/jobs?password=s3cr3t` → `postgres://alice@db/jobs?password=***`
    package static func redacting(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var result = String.UnicodeScalarView()
        var index = 0
        for hidden in hiddenRanges(scalars) {
            result.append(contentsOf: scalars[index..<hidden.lowerBound])
            result.append(contentsOf: mask.unicodeScalars)
            index = hidden.upperBound
        }
        result.append(contentsOf: scalars[index...])
        return String(result)
    }

    /// The parts of `text` that ``redacting(_:)`` hides, in order.
    package static func hiddenParts(of text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return hiddenRanges(scalars).map { String(String.UnicodeScalarView(scalars[$0])) }
    }

    /// The ranges of `scalars` that may hold a password, in order, apart from each other.
    private static func hiddenRanges(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let found = [parameterValue(scalars), userPassword(scalars)].compactMap { $0 }
            .sorted { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = []
        for range in found {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }

    /// Where the user part starts: after a `postgres:`, `postgresql:`, `redis:` or `rediss:` scheme (in any case) and the slashes that
    /// follow it (however many, either way round); without such a scheme, at the start of the text, so that a
    /// malformed scheme (`postgres//…`, ` postgres://…`) is part of what may be hidden.
    private static func userStart(_ scalars: [Unicode.Scalar]) -> Int {
        func hasScheme(_ scheme: String) -> Bool {
            let expected = Array(scheme.unicodeScalars)
            guard scalars.count >= expected.count else { return false }
            return zip(scalars, expected).allSatisfy { actual, wanted in
                actual == wanted || (("A"..."Z").contains(actual) && actual.value + 32 == wanted.value)
            }
        }
        var index: Int
        if hasScheme("postgresql:") {
            index = 11
        } else if hasScheme("postgres:") {
            index = 9
        } else if hasScheme("rediss:") {
            index = 7
        } else if hasScheme("redis:") {
            index = 6
        } else {
            return 0
        }
        while index < scalars.count, scalars[index] == "/" || scalars[index] == "\\" { index += 1 }
        return index
    }

    /// Where the host part starts when the text may have a mistyped scheme: after leading spaces, a word, and what
    /// separates a scheme (spaces, one `:`, slashes either way round), as in `postgres//`, ` postgres ://` or
    /// `mysql://`, if the text has them.
    private static func hostStart(_ scalars: [Unicode.Scalar]) -> Int {
        var index = 0
        func skip(while condition: (Unicode.Scalar) -> Bool, atMost limit: Int = .max) {
            var skipped = 0
            while index < scalars.count, skipped < limit, condition(scalars[index]) {
                index += 1
                skipped += 1
            }
        }
        skip { $0 == " " }
        let word = index
        skip { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "+.-".unicodeScalars.contains($0) }
        let afterWord = index
        skip { $0 == " " }
        skip(while: { $0 == ":" }, atMost: 1)
        skip { $0 == "/" || $0 == "\\" }
        return index > afterWord || word == afterWord ? index : 0
    }

    /// `user:password@host`: from after the first `:` of the user part up to the last `@` of the text (a password
    /// may hold an `@`).
    ///
    /// Without an `@`, what follows a `:` of the host part is a port unless it is not a number: then the `@` may be
    /// what is missing (`alice:s3cr3t/jobs`), and it is hidden too. The host part is looked for where a URL has it,
    /// and where a mistyped scheme would put it.
    private static func userPassword(_ scalars: [Unicode.Scalar]) -> Range<Int>? {
        let start = userStart(scalars)
        if let at = scalars.lastIndex(of: "@"), at >= start {
            guard let colon = scalars[start..<at].firstIndex(of: ":") else { return nil }  // a user, no password
            return (colon + 1)..<at
        }
        return nonNumericPort(scalars, from: start) ?? nonNumericPort(scalars, from: hostStart(scalars))
    }

    /// In the host part that starts at `start` (up to `/`, `?` or `#`), what follows its `:` if that is not a port.
    private static func nonNumericPort(_ scalars: [Unicode.Scalar], from start: Int) -> Range<Int>? {
        guard start < scalars.count else { return nil }
        let end = scalars[start...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? scalars.count
        var hostStart = start
        if hostStart < end, scalars[hostStart] == "[", let close = scalars[hostStart..<end].firstIndex(of: "]") {
            hostStart = close + 1  // an IPv6 literal holds colons of its own
        }
        guard let colon = scalars[hostStart..<end].firstIndex(of: ":") else { return nil }
        let port = scalars[(colon + 1)..<end]
        guard !port.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return (colon + 1)..<end
    }

    /// Everything after a `password=` parameter (libpq's, in any case): a password may hold an `&` or a `#` that
    /// was not escaped.
    private static func parameterValue(_ scalars: [Unicode.Scalar]) -> Range<Int>? {
        let key = Array("password=".unicodeScalars)
        guard scalars.count >= key.count else { return nil }
        let found = (0...(scalars.count - key.count)).first { index in
            let atParameter = index == 0 || scalars[index - 1] == "?" || scalars[index - 1] == "&"
            return atParameter
                && zip(scalars[index...], key).allSatisfy { actual, wanted in
                    actual == wanted || (("A"..."Z").contains(actual) && actual.value + 32 == wanted.value)
                }
        }
        return found.map { ($0 + key.count)..<scalars.count }
    }
}
