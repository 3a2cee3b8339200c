import CircuitryCLITestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `circuitry run` as a subprocess: exit statuses, pass-through, outcomes, timeouts, signals, concurrency.
@Suite struct RunCommandTests {
    @Test func succeedingCommandPassesItsStreamsThroughAndCountsASuccess() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(
            ["run", "--circuit", "ok"] + cli.db + ["--", "sh", "-c", "cat; printf 'to err' >&2"],
            stdin: "line 1\nline 2")
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "line 1\nline 2")
        #expect(result.stderr == "to err")
        let circuit = try await cli.circuit("ok")
        #expect(circuit["state"] as? String == "closed")
        #expect(circuit["successes"] as? Int == 1)
        #expect(circuit["failures"] as? Int == 0)
    }

    @Test func failingCommandExitsWithItsOwnStatusAndCountsAFailure() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["run", "--circuit", "f"] + cli.db + ["--", "sh", "-c", "exit 3"])
        #expect(result.status == 3, "\(result)")
        #expect(result.stderr == "")
        let circuit = try await cli.circuit("f")
        #expect(circuit["failures"] as? Int == 1)
        #expect(circuit["consecutive_failures"] as? Int == 1)
    }

    @Test func ignoredExitStatusCountsAsASuccess() async throws {
        let cli = try CLIHarness()
        let run = ["run", "--circuit", "g", "--ignore-exit", "3", "--ignore-exit", "4"] + cli.db
        #expect(try await cli.run(run + ["--", "sh", "-c", "exit 3"]).status == 3)
        #expect(try await cli.run(run + ["--", "sh", "-c", "exit 4"]).status == 4)
        #expect(try await cli.run(run + ["--", "sh", "-c", "exit 5"]).status == 5)
        let circuit = try await cli.circuit("g")
        #expect(circuit["successes"] as? Int == 2)
        #expect(circuit["failures"] as? Int == 1)
    }

    @Test func tripsAtTheThresholdThenRejectsWithoutRunningAndSaysUntilWhen() async throws {
        let cli = try CLIHarness()
        let marker = cli.path("ran")
        let run = ["run", "--circuit", "t", "--failure-threshold", "2", "--open-for", "5m"] + cli.db
        let failing = ["--", "sh", "-c", "echo x >> '\(marker)'; exit 1"]
        #expect(try await cli.run(run + failing).status == 1)
        #expect(try await cli.run(run + failing).status == 1)
        let rejected = try await cli.run(run + failing)
        #expect(rejected.status == 75, "\(rejected)")
        #expect(rejected.stdout == "")
        #expect(rejected.stderr.hasPrefix("circuitry: circuit \"t\" is open; retry after "), "\(rejected)")
        #expect(rejected.stderr.contains(isoInstant))
        #expect(rejected.stderr.split(separator: "\n").count == 1)
        let lines = try String(contentsOfFile: marker, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "the rejected command must not run")
        let circuit = try await cli.circuit("t")
        #expect(circuit["state"] as? String == "open")
        let retryAfter = try #require(circuit["retry_after"] as? String)
        #expect(rejected.stderr.contains(retryAfter))
    }

    @Test func slowCommandIsKilledAtTheTimeoutAndCountsAFailure() async throws {
        let cli = try CLIHarness()
        let started = ContinuousClock.now
        let result = try await cli.run(
            ["run", "--circuit", "slow", "--timeout", "200ms"] + cli.db + ["--", "sleep", "30"], timeout: .seconds(20))
        #expect(result.status == 124, "\(result)")
        #expect(result.stderr.contains("ran longer than 200ms and was killed"), "\(result)")
        #expect(ContinuousClock.now - started < .seconds(15))
        let circuit = try await cli.circuit("slow")
        #expect(circuit["failures"] as? Int == 1)
    }

    @Test func commandThatIgnoresSIGTERMGetsSIGKILLAfterTheGrace() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(
            ["run", "--circuit", "stubborn", "--timeout", "200ms", "--kill-after", "200ms"] + cli.db
                + ["--", "sh", "-c", "trap '' TERM; exec sleep 30"], timeout: .seconds(20))
        #expect(result.status == 124, "\(result)")
        #expect(try await cli.circuit("stubborn")["failures"] as? Int == 1)
    }

    @Test func commandKilledBySignalExitsLikeAShellAndCountsAFailure() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(["run", "--circuit", "k"] + cli.db + ["--", "sh", "-c", "kill -9 $$"])
        #expect(result.status == 128 + 9, "\(result)")
        #expect(try await cli.circuit("k")["failures"] as? Int == 1)
    }

    @Test(arguments: [SIGTERM, SIGINT, SIGHUP])
    func signalToCircuitryIsPassedOnAndCountsNeitherWay(signal: Int32) async throws {
        let cli = try CLIHarness()
        try await cli.create("s")
        let pidFile = cli.path("child.pid")
        let launched = try cli.launch(
            ["run", "--circuit", "s"] + cli.db + [
                "--", "sh", "-c", "echo $$ > '\(pidFile).tmp'; mv '\(pidFile).tmp' '\(pidFile)'; exec sleep 30",
            ])
        let started = await cli.eventually { FileManager.default.fileExists(atPath: pidFile) }
        #expect(started)
        let childText = try String(contentsOfFile: pidFile, encoding: .utf8)
        let child = try #require(pid_t(childText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(launched.pid, signal)
        let result = try await launched.wait(timeout: .seconds(20))
        #expect(result.status == 128 + signal, "\(result)")
        #expect(kill(child, 0) == -1, "the command must be gone")
        let circuit = try await cli.circuit("s")
        #expect(circuit["requests"] as? Int == 0)
        #expect(circuit["failures"] as? Int == 0)
    }

    /// `--timeout` ends everything the command started, not only the command: a shell's `sleep` would otherwise
    /// keep the pipe to `cat` open, and the pipeline would last the 30 s of the `sleep`.
    @Test func timeoutEndsTheWholeCommandAndLeavesNoOrphan() async throws {
        let cli = try CLIHarness()
        let sleeper = cli.path("sleeper.pid")
        let command =
            "\(CLIHarness.binary.path) run --circuit group --timeout 1s --db \(cli.databasePath) -- "
            + "sh -c 'sleep 30 & echo $! > \(sleeper); wait; echo after' | cat"
        let started = ContinuousClock.now
        let result = try await cli.launchProcess("/bin/sh", ["-c", command]).wait(timeout: .seconds(60))
        let elapsed = ContinuousClock.now - started
        #expect(result.status == 0, "the pipeline's status is cat's: \(result)")
        #expect(!result.stdout.contains("after"), "\(result)")
        #expect(result.stderr.contains("ran longer than 1s and was killed"), "\(result)")
        // 1 s plus start-up; the sleep would hold the pipe for 30 s. 15 s leaves room for a loaded machine.
        #expect(elapsed < .seconds(15), "the pipeline took \(elapsed)")
        let text = try String(contentsOfFile: sleeper, encoding: .utf8)
        let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(isGone(pid), "the command's sleep outlived the timeout")
        #expect(try await cli.circuit("group")["failures"] as? Int == 1)
    }

    /// A signal passed on reaches the command's whole group: a shell that waits for its child ends with it.
    @Test func aSignalPassedOnReachesEverythingTheCommandStarted() async throws {
        let cli = try CLIHarness()
        try await cli.create("fan-out")
        let sleeper = cli.path("sleeper.pid")
        let launched = try cli.launch(
            ["run", "--circuit", "fan-out"] + cli.db + [
                "--", "sh", "-c", "sleep 30 & echo $! > '\(sleeper).tmp'; mv '\(sleeper).tmp' '\(sleeper)'; wait",
            ])
        #expect(await cli.eventually { FileManager.default.fileExists(atPath: sleeper) })
        let text = try String(contentsOfFile: sleeper, encoding: .utf8)
        let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(launched.pid, SIGTERM)
        let result = try await launched.wait(timeout: .seconds(20))
        #expect(result.status == 128 + SIGTERM, "\(result)")
        #expect(await cli.eventually { isGone(pid) }, "the sleep got the SIGTERM too")
        #expect(try await cli.circuit("fan-out")["requests"] as? Int == 0)
    }

    /// A command that handles the signal passed on and exits with 128 + its number (as a JVM does for SIGTERM)
    /// was interrupted like one the signal killed: neither a success nor a failure.
    @Test(arguments: [SIGTERM, SIGINT])
    func commandExitingWith128PlusTheSignalPassedOnCountsNeitherWay(signal: Int32) async throws {
        let cli = try CLIHarness()
        try await cli.create("jvm")
        let ready = cli.path("ready")
        let name = signal == SIGTERM ? "TERM" : "INT"
        let launched = try cli.launch(
            ["run", "--circuit", "jvm"] + cli.db + [
                "--", "sh", "-c", "trap 'exit \(128 + signal)' \(name); touch '\(ready)'; while :; do sleep 0.05; done",
            ])
        #expect(await cli.eventually { FileManager.default.fileExists(atPath: ready) })
        kill(launched.pid, signal)
        let result = try await launched.wait(timeout: .seconds(20))
        #expect(result.status == 128 + signal, "\(result)")
        let circuit = try await cli.circuit("jvm")
        #expect(circuit["requests"] as? Int == 0, "\(circuit)")
        #expect(circuit["failures"] as? Int == 0, "\(circuit)")
    }

    #if os(Linux)
    @Test func commandStartsWithNoSignalBlocked() async throws {
        let cli = try CLIHarness()
        let result = try await cli.run(
            ["run", "--circuit", "mask"] + cli.db + ["--", "grep", "^SigBlk:", "/proc/self/status"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "SigBlk:\t0000000000000000\n")
    }

    /// A ^C typed at the terminal reaches the command (whose process group has the terminal while it runs), and
    /// circuitry, which does not get it, exits with the command's status.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func terminalInterruptReachesTheCommandAndCircuitryWaitsForIt() async throws {
        let cli = try CLIHarness()
        let ready = cli.path("ready")
        let command =
            "\(CLIHarness.binary.path) run --circuit tty --db \(cli.databasePath) -- "
            + "sh -c 'trap \"echo caught INT\" INT; touch \(ready); sleep 20 & wait; kill $!; echo end'"
        // `script` gives circuitry a terminal; ^C is typed once the command has set its trap. `script` starts
        // `$SHELL -c`, which must become circuitry (`exec`): a shell left waiting in between would die of the ^C
        // itself (dash does) and `script -e` would report that instead of circuitry's status.
        let typist = "while [ ! -e \(ready) ]; do sleep 0.01; done; printf '\\003'; sleep 1"
        let launched = try cli.launchProcess(
            "/bin/sh", ["-c", "(\(typist)) | /usr/bin/script -qec \"exec $COMMAND\" /dev/null"],
            environment: ["COMMAND": command, "SHELL": "/bin/sh"])
        let result = try await launched.wait(timeout: .seconds(30))
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.components(separatedBy: "caught INT").count == 2, "\(result)")
        #expect(result.stdout.contains("end"), "\(result)")
    }

    /// In an interactive shell with job control, the command behaves as a job the shell started itself: ^Z stops
    /// it and circuitry (the shell reports the job stopped), `fg` continues both and gives the command the
    /// terminal back, so that it reads what is typed next; a ^C it dies of counts as neither outcome.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func jobControlInAnInteractiveShell() async throws {
        let cli = try CLIHarness()
        try await cli.create("interrupted")
        let (ready, typescript) = (cli.path("ready"), cli.path("typescript"))
        let run = "\(CLIHarness.binary.path) run --db \(cli.databasePath) --circuit"
        let announce = "echo \\$\\$ > \(ready).tmp; mv \(ready).tmp \(ready)"
        // The typist waits on what it can see (a file, the typescript, the command's state in ps), never on time;
        // each wait gives up after 30 s.
        let typist = """
            waitfor() { i=0; while ! eval "$1"; do sleep 0.01; i=$((i+1)); [ $i -lt 3000 ] || exit 1; done; }
            printf '%s\\n' "\(run) job -- sh -c '\(announce); read line; echo got:\\$line'"
            waitfor '[ -e \(ready) ]'
            printf '\\032'
            waitfor 'grep -qi stopped \(typescript)'
            printf 'fg\\n'
            waitfor 'ps -o stat= -p $(cat \(ready)) | grep -q "^[^T]*+"'
            printf 'hello\\n'
            waitfor 'grep -q got:hello \(typescript)'
            printf 'echo first:$?\\n'
            waitfor 'grep -q "first:[0-9]" \(typescript)'
            rm \(ready)
            printf '%s\\n' "\(run) interrupted -- sh -c '\(announce); exec sleep 30'"
            waitfor '[ -e \(ready) ]'
            printf '\\003'
            waitfor '! kill -0 $(cat \(ready)) 2>/dev/null'
            printf 'echo second:$?\\n'
            waitfor 'grep -q "second:[0-9]" \(typescript)'
            printf 'exit\\n'
            sleep 1
            """
        let launched = try cli.launchProcess(
            "/bin/sh", ["-c", "(\(typist)) | /usr/bin/script -qfc '/bin/sh -i' \(typescript)"],
            environment: ["PS1": "$ "])
        let result = try await launched.wait(timeout: .seconds(90))
        let text = (try? String(contentsOfFile: typescript, encoding: .utf8)) ?? ""
        #expect(result.status == 0, "\(result) \(text)")
        #expect(text.lowercased().contains("stopped"), "the shell saw the job stopped: \(text)")
        #expect(text.contains("got:hello"), "the command read the terminal after fg: \(text)")
        #expect(text.contains("first:0"), "\(text)")
        #expect(text.contains("second:130"), "the ^C's status, as a shell reports it: \(text)")
        let job = try await cli.circuit("job")
        #expect(job["successes"] as? Int == 1, "\(job)")
        let interrupted = try await cli.circuit("interrupted")
        #expect(interrupted["requests"] as? Int == 0, "a ^C counts neither way: \(interrupted)")
    }
    #endif

    @Test func missingCommandExits127AndCountsNothing() async throws {
        let cli = try CLIHarness()
        try await cli.create("m")
        let result = try await cli.run(["run", "--circuit", "m"] + cli.db + ["--", "no-such-command-\(UUID())"])
        #expect(result.status == 127, "\(result)")
        #expect(result.stderr.hasPrefix("circuitry: cannot run \"no-such-command-"))
        #expect(try await cli.circuit("m")["requests"] as? Int == 0)
    }

    @Test func fourConcurrentRunsTripTheCircuitWithAtMostThresholdPlusThreeFailingRuns() async throws {
        let cli = try CLIHarness()
        let threshold = 3
        let runs = cli.path("runs")
        let arguments =
            ["run", "--circuit", "shared", "--failure-threshold", "\(threshold)", "--open-for", "5m"] + cli.db
            + ["--", "sh", "-c", "echo x >> '\(runs)'; exit 1"]
        // Create the database first, so that the four start on an existing file.
        try await cli.create("shared")
        let statuses = try await withThrowingTaskGroup(of: [Int32].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let worker = try CLIHarness()
                    var seen: [Int32] = []
                    for _ in 0..<20 {
                        let launched = try worker.launch(arguments)
                        let status = try await launched.wait(timeout: .seconds(30)).status
                        seen.append(status)
                        if status == 75 { break }
                    }
                    return seen
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for seen in statuses {
            #expect(seen.last == 75, "every worker ends rejected: \(seen)")
            #expect(seen.dropLast().allSatisfy { $0 == 1 }, "\(seen)")
        }
        let ran = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n").count
        #expect(ran >= threshold)
        #expect(ran <= threshold + 3, "at most threshold + (processes - 1) failing runs; saw \(ran)")
        let circuit = try await cli.circuit("shared")
        #expect(circuit["state"] as? String == "open")
        let history = try await cli.run(["history", "shared", "--json"] + cli.db)
        let opened = try jsonLines(history.stdout).filter { $0["to_state"] as? String == "open" }
        #expect(opened.count == 1, "the circuit opened exactly once")
    }

    @Test func halfOpenProbeSuccessClosesTheCircuit() async throws {
        let cli = try CLIHarness()
        let run = ["run", "--circuit", "h", "--failure-threshold", "1", "--open-for", "500ms"] + cli.db
        #expect(try await cli.run(run + ["--", "false"]).status == 1)
        // The one real wait of these tests: --open-for must elapse (bounded).
        let halfOpen = try await cli.eventually { try await cli.circuit("h")["state"] as? String == "half-open" }
        #expect(halfOpen)
        #expect(try await cli.run(run + ["--", "true"]).status == 0)
        #expect(try await cli.circuit("h")["state"] as? String == "closed")
        let history = try jsonLines(try await cli.run(["history", "h", "--json"] + cli.db).stdout)
        #expect(history.map { $0["to_state"] as? String } == ["open", "half-open", "closed"])
    }
}

/// Whether `pid` has ended (gone, or a zombie that nothing reaped yet).
func isGone(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return true }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    // The state follows the command name in parentheses: "1234 (sleep) Z ...".
    guard let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}
