import Foundation
import Testing

@testable import Circuitry

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension CrossProcessTests {
    /// What the watcher of ``watcherSeesEveryTransitionOnce(store:)`` printed.
    enum Watched {
        /// One transition as the watcher printed it.
        struct Line: Decodable, Equatable {
            var id: Int64
            var circuit: String
            var fromState: String
            var toState: String
            var generation: Int64
            var actor: String

            enum CodingKeys: String, CodingKey {
                case id, circuit, generation, actor
                case fromState = "from_state"
                case toState = "to_state"
            }
        }

        static func lines(_ watcher: WorkerProcess) throws -> [Watched.Line] {
            // A line is complete once its newline is written.
            let output = watcher.output
            let complete =
                output.hasSuffix("\n") ? output[...] : output[..<(output.lastIndex(of: "\n") ?? output.startIndex)]
            return try complete.split(separator: "\n", omittingEmptySubsequences: true).map {
                try JSONDecoder().decode(Line.self, from: Data($0.utf8))
            }
        }
    }

    /// A watcher process (`circuitry history --follow --json`, which iterates ``TransitionWatch``) sees what other
    /// processes commit, and resumes from where it stopped.
    ///
    /// 4 workers trip and probe a circuit each (every call fails: closed → open → half-open → open …, up to 2
    /// transitions a call, under the 100 the history keeps per circuit). The first watcher is stopped with
    /// SIGTERM while they run; the second starts `--after` the last id the first printed.
    @Test(
        "a watcher process sees every transition of 4 workers once, in commit order, and resumes after a restart",
        arguments: CrossProcessTests.stores)
    func watcherSeesEveryTransitionOnce(store: StoreKind) async throws {
        let lab = try await Lab.open(store)
        defer { lab.tearDown() }
        try await lab.withStore { _ in }  // `circuitry history` reads only a store that exists
        let circuitry = try Lab.product("circuitry")
        var watchers: [WorkerProcess] = []
        defer { for watcher in watchers where watcher.isRunning { watcher.kill() } }
        func watch(after id: Int64, _ name: String) throws -> WorkerProcess {
            let watcher = try WorkerProcess(
                binary: circuitry,
                arguments: ["history", "--follow", "--json", "--after", "\(id)", "--db", lab.dbArgument],
                name: name, folder: lab.folder)
            watchers.append(watcher)
            return watcher
        }
        let first = try watch(after: 0, "watcher-1")
        let workers = try await lab.startTogether(4, "flapper") { index in
            [
                "calls", "--db", lab.dbArgument, "--circuit", "flapper-\(index)", "--calls", "40",
                "--outcome", "fail", "--failure-threshold", "1", "--open-for", "30ms", "--reject-pause-ms", "40",
                "--duration-ms", "30000",
            ]
        }

        // Stop the first watcher once it has printed a few transitions (the workers are still at work).
        let deadline = ContinuousClock.now + .seconds(60)
        while try Watched.lines(first).count < 5, ContinuousClock.now < deadline {
            try #require(first.isRunning, "\(first)")
            try await Task.sleep(for: .milliseconds(10))
        }
        first.kill(SIGTERM)
        let firstExit = await first.wait(timeout: .seconds(30))
        try #require(firstExit.succeeded, "\(first)")
        let before = try Watched.lines(first)
        try #require(!before.isEmpty)
        let second = try watch(after: before.last!.id, "watcher-2")

        let reports = try await lab.reports(workers, timeout: .seconds(60))
        let history = try await lab.withStore { try await $0.history(of: nil, afterID: 0, limit: 10_000) }
        #expect(history.count >= 4 * 10, "\(history.count) transitions")
        let lastID = try #require(history.last?.id)
        while try Watched.lines(second).last?.id != lastID, ContinuousClock.now < deadline {
            try #require(second.isRunning, "\(second)")
            try await Task.sleep(for: .milliseconds(10))
        }
        second.kill(SIGTERM)
        let secondExit = await second.wait(timeout: .seconds(30))
        try #require(secondExit.succeeded, "\(second)")

        let seen = try before + Watched.lines(second)
        let committed = history.map { entry in
            let transition = entry.transition
            return Watched.Line(
                id: entry.id, circuit: transition.circuit, fromState: transition.from.rawValue,
                toState: transition.to.rawValue, generation: transition.generation, actor: transition.actor)
        }
        #expect(seen == committed, "every transition once, in commit order, across the restart")
        #expect(Set(seen.map(\.circuit)).count == 4)
        #expect(first.errors.isEmpty && second.errors.isEmpty, "no gap reported: \(first.errors) \(second.errors)")
        expectExactlyOnce(history: history, reports: reports)
        print("watch, \(store): \(history.count) transitions; \(before.count) before the restart")
    }
}
