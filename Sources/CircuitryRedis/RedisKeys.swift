#if Redis
/// The names of a store's keys. Every key of one prefix carries the same hash tag, `{prefix}`, so that all of them
/// live in one hash slot: every script then touches keys of one slot, as Redis Cluster requires.
///
/// | key | type | holds |
/// |---|---|---|
/// | `{prefix}:circuit:<name>` | hash | the circuit's record, one field per column of the SQL stores, plus `version` |
/// | `{prefix}:circuits` | sorted set | every circuit's name, scored by its `updated_at` (for listing and pruning) |
/// | `{prefix}:turn:<name>` | string | while updates race: the oldest loser's claim on the next write (expires) |
/// | `{prefix}:history:<name>` | list | the circuit's last transitions, oldest first, as in `{prefix}:log` |
/// | `{prefix}:log` | sorted set | every circuit's kept transitions, scored by id: `<id> <JSON>` |
/// | `{prefix}:sequence` | string | the last history id handed out |
/// | `{prefix}:versions` | string | the last record version handed out |
/// | `{prefix}:meta` | hash | `version`: the layout's version |
///
/// A circuit's name follows the tag as its UTF-8 bytes, unescaped (keys are binary-safe): Redis hashes only what is
/// between the first `{` and the first `}` after it, which is the prefix (braces are not allowed in it), so no
/// name can move its keys to another slot, and `circuit:<name>`, `history:<name>` and `turn:<name>` cannot equal each
/// other or a fixed key whatever the name holds. Names compare as bytes, as in the SQL stores: `é` precomposed and decomposed
/// are two circuits.
///
/// One slot per store rather than one per circuit: the history ids must increase in commit order across circuits,
/// and listing must see every circuit; both need the sequence, the log and the index to change in the same script
/// as the record, which Redis Cluster allows only within one slot. The price is that one store's keys live on one
/// node of a cluster; applications with their own prefixes spread over the nodes.
struct RedisKeys: Sendable {
    /// The layout's version, in `{prefix}:meta`. A newer one is refused, never rewritten.
    static let version: Int64 = 1

    let tag: String

    init(prefix: String) {
        tag = "{\(prefix)}"
    }

    func circuit(_ name: String) -> String { "\(tag):circuit:\(name)" }
    func history(_ name: String) -> String { "\(tag):history:\(name)" }
    func turn(_ name: String) -> String { "\(tag):turn:\(name)" }
    var circuits: String { "\(tag):circuits" }
    var log: String { "\(tag):log" }
    var sequence: String { "\(tag):sequence" }
    var versions: String { "\(tag):versions" }
    var meta: String { "\(tag):meta" }
}
#endif
