import ArgumentParser
import Circuitry
import CircuitryStores
import Foundation

/// Shell completion of circuit names, from the database that the command line being completed names (`--db`, or
/// `CIRCUITRY_DB`). The completion script runs `circuitry` itself to ask for them (ArgumentParser's `.custom`
/// completion), so they are always the database's current names.
///
/// Completing never creates anything and never prints anything but names: a database that does not exist, cannot be
/// opened or is busy completes nothing.
enum CircuitCompletion {
    /// The completion of a circuit name argument or option.
    static let names = CompletionKind.custom { words, _, prefix async in
        await candidates(words: words, prefix: prefix, environment: ProcessInfo.processInfo.environment)
    }

    /// The names of the circuits of the database that `words` (or else `environment`) names that start with `prefix`.
    static func candidates(words: [String], prefix: String, environment: [String: String]) async -> [String] {
        guard let text = database(in: words) ?? environment["CIRCUITRY_DB"], !text.isEmpty,
            let location = try? StoreLocation(text)
        else { return [] }
        do {
            return try await location.withStore(StoreLocation.Options(mustExist: true), logger: Console.silent) {
                try await $0.list().records.map(\.name).filter { $0.hasPrefix(prefix) }
            }
        } catch {
            return []
        }
    }

    /// The value of the last `--db VALUE` or `--db=VALUE` in the words of a command line, as the shell would pass it:
    /// without the quotes around it, and with a leading `~/` for the home folder.
    static func database(in words: [String]) -> String? {
        var found: String?
        for (index, word) in words.enumerated() {
            if word == "--db", index + 1 < words.count {
                found = words[index + 1]
            } else if word.hasPrefix("--db=") {
                found = String(word.dropFirst(5))
            }
        }
        return found.map(unquoted)
    }

    /// A shell word as the command would get it, for the simple cases: `'a b'`, `"a b"`, `a\ b`, `~/a`.
    static func unquoted(_ word: String) -> String {
        var text = word
        if text.count >= 2, let first = text.first, first == "'" || first == "\"", text.last == first {
            text = String(text.dropFirst().dropLast())
        } else {
            var result = ""
            var escaped = false
            for character in text {
                if !escaped, character == "\\" {
                    escaped = true
                    continue
                }
                result.append(character)
                escaped = false
            }
            text = result
        }
        if text.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"] {
            text = home + text.dropFirst()
        }
        return text
    }
}
