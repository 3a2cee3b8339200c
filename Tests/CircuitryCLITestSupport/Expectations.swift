import Testing

/// Checks a usage error: status 64, the message on the first line, then the usage.
package func expectUsageError(
    _ result: CLIHarness.Outcome, saying message: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status == 64, "\(result)", sourceLocation: sourceLocation)
    #expect(result.stdout == "", sourceLocation: sourceLocation)
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.first?.hasPrefix("circuitry: ") == true, "\(result)", sourceLocation: sourceLocation)
    #expect(lines.first?.contains(message) == true, "\(result)", sourceLocation: sourceLocation)
    #expect(lines.contains { $0.hasPrefix("Usage: circuitry") }, "\(result)", sourceLocation: sourceLocation)
}

/// Checks a storage error: status 74 and one line naming the database (a path, or a URL without its password) and
/// the cause.
package func expectStorageError(
    _ result: CLIHarness.Outcome, location: String, cause: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status == 74, "\(result)", sourceLocation: sourceLocation)
    #expect(result.stdout == "", sourceLocation: sourceLocation)
    #expect(result.stderr.split(separator: "\n").count == 1, "\(result)", sourceLocation: sourceLocation)
    #expect(result.stderr.hasPrefix("circuitry: cannot use the database"), sourceLocation: sourceLocation)
    #expect(result.stderr.contains(location), "\(result)", sourceLocation: sourceLocation)
    #expect(result.stderr.contains(cause), "\(result)", sourceLocation: sourceLocation)
}

/// Every subcommand, as one invocation each, against `db`. `run`'s command writes `marker` if it is started.
package func everySubcommand(db: String, marker: String) -> [[String]] {
    [
        ["run", "--circuit", "x", "--db", db, "--", "sh", "-c", "echo ran > '\(marker)'"],
        ["list", "--db", db], ["show", "x", "--db", db], ["trip", "x", "--db", db], ["close", "x", "--db", db],
        ["reset", "x", "--db", db], ["forget", "x", "--db", db], ["history", "--db", db],
        ["prune", "--idle", "1h", "--db", db], ["init", "--db", db],
    ]
}
