import CircuitryCLITestSupport
import CircuitryCommandLine
import Foundation
import Testing

@testable import CircuitryCLI

/// What the command says about itself: version, suggestions, completion, the man page's input, logs, and that
/// `Docs/cli.md` and `CHANGELOG.md` agree with it.
@Suite struct CommandSurfaceTests {
    /// The package's root folder.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func packageFile(_ path: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func versionIsThePackagesAndTheChangelogsLatest() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["--version"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == CircuitryVersion.current + "\n")
        let changelog = try Self.packageFile("CHANGELOG.md")
        let latest = changelog.split(separator: "\n").first { $0.hasPrefix("## ") }
        #expect(latest?.hasPrefix("## \(CircuitryVersion.current) ") == true, "\(latest ?? "no version heading")")
        #expect(try Self.packageFile("Docs/cli.md").contains("(`\(CircuitryVersion.current)`)"))
    }

    @Test(arguments: [
        ("lst", "did you mean \"list\"?"), ("sho", "did you mean \"show\"?"), ("hist", "did you mean \"history\""),
        ("fogret", "did you mean \"forget\"?"), ("trp", "did you mean \"trip\"?"),
        ("frobnicate", "the subcommands are run, list, show, trip, close, reset, forget, history, prune, init"),
    ])
    func aMistypedSubcommandGetsASuggestion(typed: String, suggestion: String) async throws {
        let cli = try CLIHarness()
        let result = try await cli.run([typed, "x"] + cli.db)
        expectUsageError(result, saying: "unknown subcommand \"\(typed)\"; \(suggestion)")
        #expect(!FileManager.default.fileExists(atPath: cli.databasePath))
    }

    @Test func aMistypedOptionGetsASuggestion() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["run", "--circuit", "x", "--fail-threshold", "3"] + cli.db + ["--", "true"])
        expectUsageError(result, saying: "Did you mean '--failure-threshold'?")
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsGenerate(shell: String) async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr == "")
        // Every subcommand, file names for --db, and circuit names from `circuitry` itself.
        for name in CircuitryCommand.subcommandNames { #expect(result.stdout.contains(name), "\(shell): \(name)") }
        #expect(result.stdout.contains("---completion show -- positional@0"), "\(shell)")
        #expect(result.stdout.contains("---completion run -- --circuit"), "\(shell)")
        let files = ["bash": "__circuitry_add_completions -f", "zsh": ":path|url:_files", "fish": "-l 'db'"]
        #expect(result.stdout.contains(files[shell] ?? "?"), "\(shell) completes files for --db")
    }

    /// bash, for real: the generated script, sourced, completes circuit names from the database that the command line
    /// names, and file names after --db.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/bash")))
    func bashCompletesCircuitNamesFromTheDatabase() async throws {
        let cli = try CLIHarness()
        try await cli.create("upstream", "upstairs", "send-email/acme")
        let script = cli.path("circuitry.bash")
        let generated = try await cli.run(["--generate-completion-script", "bash"])
        try generated.stdout.write(toFile: script, atomically: true, encoding: .utf8)

        func complete(_ words: [String], environment: [String: String] = [:]) async throws -> [String] {
            // COMP_WORDS as bash sets it, the cursor at the end of the last word.
            let line = ([CLIHarness.binary.path] + words).joined(separator: " ")
            let quoted = ([CLIHarness.binary.path] + words).map { "'\($0)'" }.joined(separator: " ")
            let program = """
                source '\(script)'
                COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count); COMP_LINE='\(line)'; COMP_POINT=${#COMP_LINE}
                _circuitry '\(CLIHarness.binary.path)' '\(words.last ?? "")' '\(words.dropLast().last ?? "")'
                printf '%s\\n' "${COMPREPLY[@]}"
                """
            let result = try await cli.launchProcess("/bin/bash", ["-c", program], environment: environment).wait()
            #expect(result.status == 0, "\(result)")
            return result.stdout.split(separator: "\n").map(String.init).sorted()
        }
        #expect(try await complete(["show", "--db", cli.databasePath, "ups"]) == ["upstairs", "upstream"])
        #expect(try await complete(["trip", "--db", cli.databasePath, "send"]) == ["send-email/acme"])
        #expect(try await complete(["run", "--db", cli.databasePath, "--circuit", "upstr"]) == ["upstream"])
        #expect(
            try await complete(["reset", "up"], environment: ["CIRCUITRY_DB": cli.databasePath])
                == ["upstairs", "upstream"], "the database from the environment")
        #expect(try await complete(["list", "--db", cli.path("brea")]) == [cli.databasePath], "files for --db")

        // A database that does not exist completes nothing, and is not created.
        let missing = cli.path("missing.sqlite")
        #expect(try await complete(["show", "--db", missing, ""]) == [])
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    /// What ArgumentParser's generate-manual plugin reads to write the man page (`make man` runs the plugin itself):
    /// every subcommand, with its help.
    @Test func theManPageHasWhatItNeeds() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["--experimental-dump-help"])
        #expect(result.status == 0, "\(result)")
        let root = try #require(try jsonObject(result.stdout)["command"] as? [String: Any])
        let subcommands = try #require(root["subcommands"] as? [[String: Any]])
        let names = subcommands.compactMap { $0["commandName"] as? String }
        #expect(Set(names).isSuperset(of: CircuitryCommand.subcommandNames.filter { $0 != "help" }))
        #expect((root["discussion"] as? String)?.contains("Exit statuses:") == true)
    }

    @Test func logsGoToStandardErrorAtTheLevelAsked() async throws {
        let cli = try CLIHarness()
        let failing = ["run", "--failure-threshold", "1"] + cli.db
        let quiet = try await cli.run(failing + ["--circuit", "a", "--", "false"])
        #expect(quiet.status == 1)
        #expect(quiet.stderr == "", "no logs by default: \(quiet)")
        for flags in [["--log-level", "debug"], ["-vv"], ["-v", "--log-level", "trace"]] {
            let circuit = "c\(flags.count)\(flags[0].count)"
            let verbose = try await cli.run(failing + flags + ["--circuit", circuit, "--", "false"])
            #expect(verbose.status == 1, "\(verbose)")
            #expect(verbose.stdout == "")
            #expect(
                verbose.stderr.contains(
                    "circuitry: debug: circuit is now open (circuitry.circuit=\(circuit), circuitry.from=closed"),
                "\(flags): \(verbose)")
            #expect(verbose.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix("circuitry: ") })
        }
        let info = try await cli.run(failing + ["-v", "--circuit", "d", "--", "false"])
        #expect(!info.stderr.contains("debug:"), "-v is info: \(info)")
    }

    // MARK: The documentation agrees with the command

    @Test func theReferenceDocumentsEverySubcommandAndOption() async throws {
        let cli = try CLIHarness()
        let docs = try Self.packageFile("Docs/cli.md")
        let dump = try await cli.run(["--experimental-dump-help"])
        let root = try #require(try jsonObject(dump.stdout)["command"] as? [String: Any])
        for subcommand in try #require(root["subcommands"] as? [[String: Any]]) {
            let name = try #require(subcommand["commandName"] as? String)
            guard name != "help" else { continue }
            #expect(docs.contains("## `circuitry \(name)`"), "a section for \(name)")
            for argument in subcommand["arguments"] as? [[String: Any]] ?? [] {
                let names = argument["names"] as? [[String: Any]] ?? []
                for long in names where long["kind"] as? String == "long" {
                    let option = "--\(long["name"] as? String ?? "")"
                    if ["--help", "--version"].contains(option) { continue }
                    #expect(docs.contains("`\(option)"), "\(name) \(option) is documented")
                }
            }
        }
    }

    @Test func theReferenceListsEveryJSONKey() throws {
        let docs = try Self.packageFile("Docs/cli.md")
        for key in JSONKeys.circuit.union(JSONKeys.transition).union(["history"]) {
            #expect(docs.contains("| `\(key)` |"), "\(key) is in a table of Docs/cli.md")
        }
    }

    @Test func theExitStatusesAgreeEverywhere() async throws {
        let cli = try CLIHarness()
        let docs = try Self.packageFile("Docs/cli.md")
        let help = try await cli.run(["--help"])
        let statuses = [
            ExitStatus.usage, ExitStatus.noSuchCircuit, ExitStatus.storage, ExitStatus.rejected, ExitStatus.timedOut,
            ExitStatus.cannotExecute, ExitStatus.commandNotFound,
        ]
        for status in statuses {
            #expect(docs.contains("| \(status) "), "Docs/cli.md lists \(status)")
            #expect(help.stdout.contains("  \(status) "), "--help lists \(status)")
        }
    }
}
