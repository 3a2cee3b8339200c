import Foundation

/// Every figure of a run, the rows of the printed table and the targets they were checked against.
package struct Report {
    package struct Row {
        package var label: String
        package var circuitry: String
        package var reference: String
        package var ratio: String
        package var target: String
        package var met: String
    }

    package struct Check {
        package var name: String
        package var value: Double
        package var target: String
        package var met: Bool
        /// `false` for aims, which are reported but do not fail the run.
        package var required: Bool
    }

    package private(set) var figures: [(String, Double)] = []
    package private(set) var rows: [Row] = []
    package private(set) var checks: [Check] = []
    package var notes: [String] = []

    package init() {}

    package mutating func figure(_ name: String, _ value: Double) {
        figures.append((name, value))
    }

    /// A row with no target: a figure and, optionally, what it is compared with.
    package mutating func row(_ label: String, _ circuitry: String, reference: String = "", ratio: String = "") {
        rows.append(Row(label: label, circuitry: circuitry, reference: reference, ratio: ratio, target: "", met: ""))
    }

    /// A row whose ratio is checked: `atLeast` (ratio ≥ bound) or at most (ratio ≤ bound).
    package mutating func check(
        _ label: String, key: String, _ circuitry: String, reference: String, ratio: Double, atLeast: Bool,
        bound: Double, unit: String = "×", required: Bool = true
    ) {
        let met = atLeast ? ratio >= bound : ratio <= bound
        let target = "\(atLeast ? "≥" : "≤") \(format(bound, unit))\(required ? "" : " (aim)")"
        checks.append(Check(name: key, value: ratio, target: target, met: met, required: required))
        rows.append(
            Row(
                label: label, circuitry: circuitry, reference: reference, ratio: format(ratio, unit), target: target,
                met: met ? "yes" : "NO"))
    }

    private func format(_ value: Double, _ unit: String) -> String {
        switch unit {
        case "×": String(format: "%.2f×", value)
        case "ms": String(format: "%.2f ms", value)
        case "MiB": String(format: "%.1f MiB", value)
        default: String(format: "%.2f %@", value, unit)
        }
    }

    /// The table as text, with columns padded to their widest cell; a column that is empty in every row is left out.
    package func table() -> String {
        let header = Row(
            label: "case", circuitry: "Circuitry", reference: "reference", ratio: "ratio", target: "target", met: "met")
        func allCells(_ row: Row) -> [String] {
            [row.label, row.circuitry, row.reference, row.ratio, row.target, row.met]
        }
        let shown = (0..<6).filter { column in rows.contains { !allCells($0)[column].isEmpty } }
        func cells(_ row: Row) -> [String] {
            let all = allCells(row)
            return shown.map { all[$0] }
        }
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: shown.count)
        for row in all {
            for (index, cell) in cells(row).enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ values: [String]) -> String {
            let padded = values.enumerated().map { index, cell in
                cell + String(repeating: " ", count: widths[index] - cell.count)
            }
            return "| " + padded.joined(separator: " | ") + " |"
        }
        var lines = [line(cells(header)), line(widths.map { String(repeating: "-", count: $0) })]
        lines += rows.map { line(cells($0)) }
        return lines.joined(separator: "\n")
    }

    /// The JSON document: machine, options, every figure, every check, the table's rows and the notes.
    package func json(machine: [String: Any], options: [String: Any]) throws -> Data {
        var figureObject: [String: Double] = [:]
        for (name, value) in figures where value.isFinite { figureObject[name] = value }
        let document: [String: Any] = [
            "machine": machine,
            "options": options,
            "figures": figureObject,
            "targets": checks.map {
                ["name": $0.name, "value": $0.value, "target": $0.target, "met": $0.met, "required": $0.required]
            },
            "table": rows.map {
                [
                    "case": $0.label, "circuitry": $0.circuitry, "reference": $0.reference, "ratio": $0.ratio,
                    "target": $0.target, "met": $0.met,
                ]
            },
            "notes": notes,
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
    }
}

/// `12.3 µs` / `850 ns` / `1.20 ms`.
package func formatNanoseconds(_ nanoseconds: Double) -> String {
    if nanoseconds >= 1_000_000 { return String(format: "%.2f ms", nanoseconds / 1e6) }
    if nanoseconds >= 10_000 { return String(format: "%.1f µs", nanoseconds / 1e3) }
    if nanoseconds >= 1000 { return String(format: "%.2f µs", nanoseconds / 1e3) }
    return String(format: "%.0f ns", nanoseconds)
}

/// `1.23 M/s` / `456 k/s` / `2.34 k/s` / `850 /s`.
package func formatRate(_ perSecond: Double) -> String {
    if perSecond >= 1e6 { return String(format: "%.2f M/s", perSecond / 1e6) }
    if perSecond >= 1e4 { return String(format: "%.0f k/s", perSecond / 1e3) }
    if perSecond >= 1e3 { return String(format: "%.2f k/s", perSecond / 1e3) }
    return String(format: "%.0f /s", perSecond)
}

/// Cost per call and throughput: `4.10 µs (244 k/s)`.
package func formatCost(_ nanoseconds: Double) -> String {
    "\(formatNanoseconds(nanoseconds)) (\(formatRate(1e9 / nanoseconds)))"
}

extension Report {
    /// A figure recorded earlier in the run.
    package func value(_ name: String) -> Double {
        figures.last { $0.0 == name }?.1 ?? .nan
    }
}
