import Circuitry

/// The human-readable forms of `list`, `show` and `history`. Scripts should use `--json`, whose form is stable.
enum TextFormat {
    /// The `list` table: a header and one row per circuit.
    static func table(_ snapshots: [CircuitSnapshot]) -> String {
        let header = ["NAME", "STATE", "GEN", "REQUESTS", "SUCCESSES", "FAILURES", "CONSEC", "EXPIRES", "OVERRIDE"]
        let rows = snapshots.map { snapshot -> [String] in
            let record = snapshot.record
            return [
                record.name, record.state.rawValue, "\(record.generation)", "\(record.counts.requests)",
                "\(record.counts.successes)", "\(record.counts.failures)", "\(record.counts.consecutiveFailures)",
                record.expiresAt?.description ?? "-", overrideText(record.override) ?? "-",
            ]
        }
        let numeric: Set<Int> = [2, 3, 4, 5, 6]
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.indices.map { column in
                let cell = row[column]
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return numeric.contains(column) ? padding + cell : cell + padding
            }
            .joined(separator: "  ")
            .trimmingTrailingSpaces
        }
        .joined(separator: "\n")
    }

    /// The `show` details: one `field: value` line each, then the recent history.
    static func details(_ snapshot: CircuitSnapshot, history: [HistoryEntry]) -> String {
        let record = snapshot.record
        let counts = record.counts
        var fields: [(String, String)] = [
            ("circuit", record.name),
            ("state", record.state.rawValue),
        ]
        if let stored = snapshot.storedState, stored != record.state {
            fields.append(("stored state", "\(stored.rawValue) (until the next call writes it)"))
        }
        fields += [
            ("generation", "\(record.generation)"),
            ("requests", "\(counts.requests)"),
            ("successes", "\(counts.successes) (\(counts.consecutiveSuccesses) in a row)"),
            ("failures", "\(counts.failures) (\(counts.consecutiveFailures) in a row)"),
        ]
        if let expiry = record.expiresAt { fields.append(("expires at", expiry.description)) }
        if let retryAfter = snapshot.retryAfter { fields.append(("retry after", retryAfter.description)) }
        if !record.probes.isEmpty { fields.append(("probes out", "\(record.probes.count)")) }
        fields.append(("override", overrideText(record.override) ?? "none"))
        fields.append(("opened in a row", "\(record.openAttempts)"))
        fields.append(("updated at", record.updatedAt.description))
        let width = fields.map(\.0.count).max() ?? 0
        var lines = fields.map { name, value in
            name + ":" + String(repeating: " ", count: width - name.count + 1) + value
        }
        lines.append("history:" + (history.isEmpty ? " none" : ""))
        lines += history.map { "  " + historyLine($0, showingCircuit: false) }
        return lines.joined(separator: "\n")
    }

    /// One transition: `#7  2026-11-29T12:30:05.250Z  send-email/acme  closed -> open  gen 3  5 consecutive
    /// failures  (circuitry pid 42 on host-a)`.
    static func historyLine(_ entry: HistoryEntry, showingCircuit: Bool = true) -> String {
        let transition = entry.transition
        var parts = ["#\(entry.id)", transition.at.description]
        if showingCircuit { parts.append(transition.circuit) }
        parts += [
            "\(transition.from.rawValue) -> \(transition.to.rawValue)", "gen \(transition.generation)",
            transition.reason, "(\(transition.actor))",
        ]
        return parts.joined(separator: "  ")
    }

    /// `forced-open until …: reason`, `forced-closed`, or `nil` without an override.
    static func overrideText(_ override: CircuitOverride?) -> String? {
        guard let override else { return nil }
        var text: String
        switch override {
        case .forcedOpen(let until, _):
            text = "forced-open" + (until.map { " until \($0)" } ?? "")
        case .forcedClosed:
            text = "forced-closed"
        }
        if let reason = override.reason, !reason.isEmpty { text += ": " + Console.oneLine(reason) }
        return text
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
