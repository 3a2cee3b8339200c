/// Database URLs of many shapes, well formed and not, each with a password that no error, log line or message may
/// show: the property-style input of the redaction tests.
///
/// Each text is a scheme (right, mistyped, missing or another), a user, `:`, the password, and what follows (`@`
/// and a host, or no `@` at all, or a `password=` parameter instead). The password is a distinctive `secret`
/// wrapped in characters that URLs treat specially (`@ : / ? # % [ ]`, spaces, non-ASCII); a text leaks if `secret`
/// appears in what is shown. Seeded, so that a failure can be replayed.
package struct PasswordShape: Sendable, CustomStringConvertible {
    /// The database text, as a user would pass it.
    package let text: String
    /// What must never be shown.
    package let secret: String

    package var description: String { text.debugDescription }

    /// `count` shapes from `seed`.
    package static func generate(count: Int, seed: UInt64 = 0x5EC2_E7) -> [PasswordShape] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { index in
            let secret = "S3cr" + String((0..<6).map { _ in random.pick(Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")) })
            let user = random.pick(users)
            switch index % 8 {
            case 6:
                // No `@`: the host is missing, or the `@` forgotten.
                let password = random.pick(["", "x", "%"]) + secret
                return PasswordShape(
                    text: random.pick(bareSchemes) + user + ":" + password + random.pick(["", "/jobs", "?x=1", "#f"]),
                    secret: secret)
            case 7:
                // libpq's `password` parameter.
                let key = random.pick(["password", "PASSWORD", "Password"])
                return PasswordShape(
                    text: random.pick(schemes) + user + "@" + random.pick(hosts) + "/jobs?" + random.pick(["", "a=b&"])
                        + key + "=" + random.pick(wrappers) + secret + random.pick(["", "&sslmode=disable", "#x"]),
                    secret: secret)
            default:
                let password = random.pick(wrappers) + secret + random.pick(wrappers)
                let text =
                    random.pick(schemes) + user + ":" + password + "@" + random.pick(hosts) + random.pick(tails)
                return PasswordShape(text: text, secret: secret)
            }
        }
    }

    private static let schemes = [
        "postgres://", "postgresql://", "POSTGRES://", "PostgreSQL://", "postgres:/", "postgres:", "postgres//",
        "postgres/", "postgres:///", "postgres:\\\\", " postgres://", "postgres ://", "postgre://", "mysql://", "",
        "//", "postgres://host/", "postgres://@", "postgres://x@y/", "file:",
    ]
    /// Schemes with no host or path of their own, for the texts without an `@`: after a host and a `/`, a `:` is
    /// part of a path, and nothing says it is a password.
    private static let bareSchemes = [
        "postgres://", "postgresql://", "POSTGRES://", "postgres:/", "postgres:", "postgres//", "postgres:///",
        " postgres://", "postgres ://", "mysql://", "", "//",
    ]
    private static let users = ["alice", "", "a.b", "app%40x", "ü", "u-1"]
    private static let wrappers = [
        "", "", "@", ":", "/", "?", "#", "%", "%40", "[", "]", " ", "é", "&", "=", "//", "@@", ":@", "\\", "a@b:c/d",
        "e\u{301}",
    ]
    private static let hosts = [
        "db", "", "127.0.0.1", "[::1]", "db:5432", "db:port", "db:", "[::1", "db@other", "h:1:2", "db.internal",
    ]
    private static let tails = [
        "", "/jobs", "/", "/a/b", "/jobs?sslmode=require", "?x=1", "/jobs?application_name=a@b", "#frag",
        "/jobs?sslmode=sometimes", "/jobs?nope=1", "/jobs?schema=Bad%27", ":99999/db",
    ]
}

/// A small seeded generator (SplitMix64), so that the shapes are the same on every run.
package struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    package mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int.random(in: 0..<choices.count, using: &self)]
    }
}
