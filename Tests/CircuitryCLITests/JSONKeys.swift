/// The keys of `circuitry`'s `--json` output, pinned: scripts rely on them.
///
/// A key may be added (to the set here, to `Docs/cli.md` and to `CHANGELOG.md`); none may be renamed or removed.
/// ``JSONKeys/sinceFirstRelease`` keeps the keys of the first form, which every later set must contain.
enum JSONKeys {
    /// The keys of a circuit as the first `list --json` printed them.
    static let sinceFirstRelease: Set<String> = [
        "name", "state", "stored_state", "generation", "requests", "successes", "failures", "consecutive_successes",
        "consecutive_failures", "expires_at", "retry_after", "probes", "override", "override_until",
        "override_reason", "open_attempts", "updated_at",
    ]

    /// A circuit in `list --json` (and `show --json`, which adds `history`).
    static let circuit: Set<String> = sinceFirstRelease.union([
        "read_at", "last_transition", "since", "why", "by", "next",
    ])

    /// A transition in `history --json`, in `show --json`'s `history` and in `last_transition`.
    static let transition: Set<String> = [
        "id", "at", "circuit", "from_state", "to_state", "generation", "reason", "actor",
    ]
}
