import Circuitry
import CircuitryCommandLine

/// Names close to a mistyped one: "did you mean …?" for circuits and subcommands.
enum Suggestions {
    /// The candidates that `typed` is most likely a mistyping of, best first, at most `limit`:
    ///
    /// - the same text in another Unicode form (`café` as `e` + combining accent, and `café` with `é`);
    /// - names within a small edit distance (insertions, deletions, substitutions and swaps of two neighbours; at
    ///   most 1 for short names, up to 3 for long ones), nearest first;
    /// - names of which `typed` is a whole `/`-separated part (`acme` → `send-email/acme`, `send-email` →
    ///   `send-email/acme`): a base name or a tenant typed instead of the full name;
    /// - names that begin what was typed, or that it begins (`send-email/acme-prod` → `send-email/acme`, `send` →
    ///   `send-email/acme`), of three characters or more.
    static func closest(to typed: String, among candidates: [String], limit: Int = 3) -> [String] {
        let target = Array(typed.unicodeScalars)
        let bound = max(1, min(3, target.count / 3))
        var ranked: [(rank: Int, name: String)] = []
        for candidate in Set(candidates) where candidate.unicodeScalars.elementsEqual(typed.unicodeScalars) == false {
            if candidate == typed {
                // Equal as Swift compares strings (canonical equivalence), different as bytes.
                ranked.append((0, candidate))
                continue
            }
            let scalars = Array(candidate.unicodeScalars)
            if abs(scalars.count - target.count) <= bound {
                let distance = editDistance(target, scalars)
                if distance <= bound {
                    ranked.append((distance, candidate))
                    continue
                }
            }
            if candidate.split(separator: "/").contains(where: { $0 == typed }) {
                ranked.append((bound + 1, candidate))
            } else if min(candidate.count, typed.count) >= 3, candidate.hasPrefix(typed) || typed.hasPrefix(candidate) {
                ranked.append((bound + 2, candidate))
            }
        }
        return ranked.sorted { ($0.rank, $0.name) < ($1.rank, $1.name) }.prefix(limit).map(\.name)
    }

    /// The optimal string alignment distance: the fewest insertions, deletions, substitutions and swaps of two
    /// neighbouring elements that turn `a` into `b` (each element edited at most once).
    static func editDistance<Element: Equatable>(_ a: [Element], _ b: [Element]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        // Three rows of the usual table: two back (for swaps), the previous one and the current one.
        var twoBack = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], twoBack[j - 2] + 1)
                }
            }
            (twoBack, previous, current) = (previous, current, twoBack)
        }
        return previous[b.count]
    }

    /// ` (the same name in another Unicode form)` when `suggestion` differs from `typed` only in normalization.
    static func note(for suggestion: String, typed: String) -> String {
        suggestion == typed ? " (the same name in another Unicode form)" : ""
    }
}

/// A circuit the database does not have: `show`, `forget`, and `trip`, `close`, `reset` without `--create`. Exits
/// with ``ExitStatus/noSuchCircuit``; nothing was written.
struct NoSuchCircuit: Error, CustomStringConvertible {
    /// The name as typed.
    var name: String
    /// The database, as messages show it.
    var location: String
    /// Close names the database has, best first.
    var suggestions: [String]
    /// Whether the history has transitions of this name: it existed, and was forgotten or pruned.
    var hasHistory: Bool
    /// Whether `--create` would have made the circuit.
    var canCreate: Bool

    var description: String {
        var text = "no circuit \"\(name)\" in \(location)"
        if !suggestions.isEmpty {
            let quoted = suggestions.map { "\"\($0)\"" + Suggestions.note(for: $0, typed: name) }
            text += "; did you mean " + quoted.joined(separator: " or ") + "?"
        }
        if hasHistory { text += " (its history is kept: it was forgotten or pruned)" }
        if canCreate { text += (text.hasSuffix("?") ? "" : ".") + " To create it, add --create." }
        return text
    }

    /// Looks the circuit up: its snapshot, or a ``NoSuchCircuit`` with the names close to it.
    static func require(
        _ name: String, in factory: BreakerFactory, store: StoreOptions, canCreate: Bool
    ) async throws -> CircuitSnapshot {
        if let snapshot = try await factory.snapshot(of: name) { return snapshot }
        throw try await describing(name, in: factory, store: store, canCreate: canCreate)
    }

    /// The error for `name`, which the database does not have, with the names close to it.
    static func describing(
        _ name: String, in factory: BreakerFactory, store: StoreOptions, canCreate: Bool
    ) async throws -> NoSuchCircuit {
        let names = try await factory.snapshots().map(\.record.name)
        return NoSuchCircuit(
            name: name, location: try store.displayLocation,
            suggestions: Suggestions.closest(to: name, among: names),
            hasHistory: !(try await factory.history(of: name, limit: 1)).isEmpty, canCreate: canCreate)
    }
}
