import Circuitry
import CircuitryCommandLine

/// The human-readable forms of `list`, `show` and `history`. Scripts should use `--json`, whose form is stable.
enum TextFormat {
    /// The `list` table: a header and one row per circuit.
    static func table(_ reports: [CircuitReport], palette: Palette = Palette(enabled: false)) -> String {
        let header = ["NAME", "STATE", "SINCE", "NEXT", "REQUESTS", "FAILURES", "CONSEC", "WHY"]
        let rows = reports.map { report -> [String] in
            let counts = report.record.counts
            let why = report.why.map { why in report.actor.map { "\(why), by \($0)" } ?? why }
            return [
                Console.oneLine(report.record.name), report.record.state.rawValue,
                report.since.map { relative($0, now: report.now) } ?? "-", report.next ?? "-", "\(counts.requests)",
                "\(counts.failures)", "\(counts.consecutiveFailures)", why ?? "-",
            ]
        }
        let numeric: Set<Int> = [4, 5, 6]
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ row: [String], state: CircuitState?) -> String {
            row.indices.map { column in
                let cell = row[column]
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                if column == 1, let state { return palette.paint(cell, as: state) + padding }
                return numeric.contains(column) ? padding + cell : cell + padding
            }
            .joined(separator: "  ")
            .trimmingTrailingSpaces
        }
        return ([line(header, state: nil)] + zip(rows, reports).map { line($0, state: $1.record.state) })
            .joined(separator: "\n")
    }

    /// The `show` details: one `field: value` line each, then the recent history.
    static func details(
        _ report: CircuitReport, history: [HistoryEntry], palette: Palette = Palette(enabled: false)
    ) -> String {
        let record = report.record
        let counts = record.counts
        let now = report.now
        var state = palette.paint(record.state.rawValue, as: record.state)
        if let since = report.since { state += " since " + instant(since, now: now) }
        var fields: [(String, String)] = [("circuit", Console.oneLine(record.name)), ("state", state)]
        if let stored = report.snapshot.storedState, stored != record.state {
            fields.append(("stored state", "\(stored.rawValue) (until the next call writes it)"))
        }
        if let why = report.why { fields.append(("why", why)) }
        if let actor = report.actor { fields.append(("by", actor)) }
        if let next = report.next { fields.append(("next", next)) }
        fields += [
            ("generation", "\(record.generation)"),
            ("requests", "\(counts.requests)"),
            ("successes", "\(counts.successes) (\(counts.consecutiveSuccesses) in a row)"),
            ("failures", "\(counts.failures) (\(counts.consecutiveFailures) in a row)"),
        ]
        if record.state != .closed {
            // The counts start afresh with each change of state: what opened it is the transition's reason.
            fields.append(("counts", "since it became \(record.state.rawValue) (the reason above says what opened it)"))
        }
        if let expiry = record.expiresAt { fields.append(("expires at", instant(expiry, now: now))) }
        if let retryAfter = report.snapshot.retryAfter { fields.append(("retry after", instant(retryAfter, now: now))) }
        if !record.probes.isEmpty { fields.append(("probes out", "\(record.probes.count)")) }
        fields.append(("override", overrideText(record.override, now: now) ?? "none"))
        fields.append(("opened in a row", "\(record.openAttempts)"))
        fields.append(("updated at", instant(record.updatedAt, now: now)))
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
        if showingCircuit { parts.append(Console.oneLine(transition.circuit)) }
        parts += [
            "\(transition.from.rawValue) -> \(transition.to.rawValue)", "gen \(transition.generation)",
            Console.oneLine(transition.reason), "(\(Console.oneLine(transition.actor)))",
        ]
        return parts.joined(separator: "  ")
    }

    /// `forced-open until …: reason`, `forced-closed`, or `nil` without an override.
    static func overrideText(_ override: CircuitOverride?, now: Timestamp? = nil) -> String? {
        guard let override else { return nil }
        var text: String
        switch override {
        case .forcedOpen(let until, _):
            if let until {
                text = "forced-open until " + (now.map { instant(until, now: $0) } ?? until.description)
            } else {
                text = "forced-open"
            }
        case .forcedClosed:
            text = "forced-closed"
        }
        if let reason = override.reason, !reason.isEmpty { text += ": " + Console.oneLine(reason) }
        return text
    }

    /// An instant and how far it is from now: `2026-11-29T12:30:05.250Z (in 27s)`.
    static func instant(_ instant: Timestamp, now: Timestamp) -> String {
        "\(instant) (\(relative(instant, now: now)))"
    }

    /// How far `instant` is from `now`, roughly, in the forms of durations: `in 27s`, `3m12s ago`, `now`.
    static func relative(_ instant: Timestamp, now: Timestamp) -> String {
        let (difference, overflow) = instant.millisecondsSince1970.subtractingReportingOverflow(
            now.millisecondsSince1970)
        if overflow { return instant > now ? "in the far future" : "in the far past" }
        if difference == 0 { return "now" }
        // Not `abs`, which traps on Int64.min (a damaged row can hold any time).
        var amount = DurationArgument.roughly(milliseconds: difference)
        if amount.hasPrefix("-") { amount.removeFirst() }
        return difference > 0 ? "in \(amount)" : "\(amount) ago"
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
