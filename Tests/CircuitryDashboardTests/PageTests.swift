#if Dashboard
import CircuitryCLITestSupport
import Foundation
import Testing

/// The page of `circuitry serve` in a real browser: headless Chromium loads it, another process trips a circuit,
/// and the page's DOM shows it, without a reload.
@Suite("serve: the page in headless Chromium")
struct PageTests {
    /// Waits, for at most `timeout`, until the expression is true in the page (an exception, as before the page has
    /// loaded, is false); returns how long it took, or `nil`.
    private func waitFor(
        _ condition: String, in browser: HeadlessChromium, timeout: Duration
    ) async throws -> Duration? {
        let expression = "(() => { try { return !!(\(condition)) } catch (error) { return false } })()"
        let started = ContinuousClock.now
        while ContinuousClock.now - started < timeout {
            if try await browser.evaluate(expression) as? Bool == true { return ContinuousClock.now - started }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await browser.evaluate(expression) as? Bool == true ? ContinuousClock.now - started : nil
    }

    private func row(_ name: String) -> String { "document.querySelector('tr[data-circuit=\"\(name)\"]')" }

    @Test("a circuit tripped by another process shows open within 2 s; the filters and counts follow")
    func showsATripLive() async throws {
        let harness = try CLIHarness()
        try await harness.create("billing", "send-email/acme", "send-email/globex")
        let served = try await ServedDashboard(harness)
        let browser = try HeadlessChromium(folder: harness.folder.path)
        try await browser.open("http://127.0.0.1:\(served.port)/")

        // Loaded, listed, and following the event stream.
        let ready = try await waitFor(
            "document.querySelectorAll('#circuits tr').length === 3 && "
                + "document.getElementById('live').textContent === 'live'", in: browser, timeout: .seconds(30))
        #expect(ready != nil, "the page never listed the circuits and went live")
        #expect(try await browser.evaluate("\(row("send-email/acme")).dataset.state") as? String == "closed")

        let tripped = try await harness.run(["trip", "send-email/acme", "--reason", "smtp down"] + harness.db)
        #expect(tripped.status == 0, "\(tripped)")
        let shown = try await waitFor(
            "\(row("send-email/acme")).dataset.state === 'open'", in: browser, timeout: .seconds(2))
        #expect(shown != nil, "the page did not show the trip within 2 s")
        if let shown { print("the page showed the trip \(shown) after the trip's process exited") }

        // The row has its colour, the reason and the process; the counts and the feed follow.
        #expect(
            try await browser.evaluate("\(row("send-email/acme")).querySelector('.state').className") as? String
                == "state open")
        let why = try await waitFor(
            "\(row("send-email/acme")).textContent.includes('forced open: smtp down') && "
                + "\(row("send-email/acme")).textContent.includes('circuitry pid')", in: browser, timeout: .seconds(5))
        #expect(why != nil)
        #expect(try await browser.evaluate("document.getElementById('count-open').textContent") as? String == "1")
        #expect(
            try await browser.evaluate("document.querySelector('#feed li').textContent.includes('send-email/acme')")
                as? Bool == true)

        // Filters: a name prefix, then a state.
        _ = try await browser.evaluate(
            "(() => { const p = document.getElementById('prefix'); p.value = 'send-email/'; "
                + "p.dispatchEvent(new Event('input')); return true })()")
        #expect(
            try await browser.evaluate("[...document.querySelectorAll('#circuits tr')].map(r => r.dataset.circuit)")
                as? [String] == ["send-email/acme", "send-email/globex"])
        _ = try await browser.evaluate(
            "(() => { const c = document.querySelector('input[name=state][value=closed]'); c.checked = false; "
                + "c.dispatchEvent(new Event('change')); return true })()")
        #expect(
            try await browser.evaluate("[...document.querySelectorAll('#circuits tr')].map(r => r.dataset.circuit)")
                as? [String] == ["send-email/acme"])

        // A reset through the API shows closed again, still without a reload.
        let reset = try await served.request("POST", "/api/circuits/send-email/acme/reset")
        #expect(reset.status == 200, "\(reset)")
        #expect(
            try await waitFor(
                "document.querySelectorAll('#circuits tr').length === 0", in: browser, timeout: .seconds(2))
                != nil, "filtered out once closed")
        try await served.stop()
    }

    /// `make dashboard-screenshot`: with `CIRCUITRY_SCREENSHOT=PATH`, writes a picture of the page over circuits in
    /// every state, tripped by failing commands and by an operator.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CIRCUITRY_SCREENSHOT"] != nil))
    func screenshot() async throws {
        let path = try #require(ProcessInfo.processInfo.environment["CIRCUITRY_SCREENSHOT"])
        let harness = try CLIHarness()
        try await harness.create("billing/invoices", "search/index", "send-email/initech")
        let failing = ["--failure-threshold", "3", "--circuit"]
        for _ in 0..<3 {
            _ = try await harness.run(
                ["run"] + failing + ["send-email/acme", "--open-for", "10m"] + harness.db + ["--", "false"])
            _ = try await harness.run(
                ["run"] + failing + ["send-email/globex", "--open-for", "1s"] + harness.db + ["--", "false"])
        }
        for _ in 0..<7 {
            _ = try await harness.run(["run", "--circuit", "billing/invoices"] + harness.db + ["--", "true"])
        }
        _ = try await harness.run(["run", "--circuit", "search/index"] + harness.db + ["--", "false"])
        _ = try await harness.run(
            ["trip", "reports/nightly", "--create", "--for", "1h", "--reason", "db migration"] + harness.db)
        let served = try await ServedDashboard(harness)
        let browser = try HeadlessChromium(folder: harness.folder.path, width: 1400, height: 660)
        try await browser.open("http://127.0.0.1:\(served.port)/")
        _ = try await waitFor(
            "document.getElementById('live').textContent === 'live'", in: browser, timeout: .seconds(30))
        // Live transitions for the feed: an operator closes one, and another fails again.
        try await Task.sleep(for: .seconds(1))
        _ = try await harness.run(["trip", "search/index", "--for", "15m", "--reason", "index rebuild"] + harness.db)
        _ = try await harness.run(["run"] + failing + ["send-email/globex"] + harness.db + ["--", "false"])
        _ = try await waitFor("document.querySelectorAll('#feed li').length >= 2", in: browser, timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(1600))  // past the highlight of the rows that changed
        try await browser.screenshot().write(to: URL(fileURLWithPath: path))
        print("wrote \(path)")
        try await served.stop()
    }
}
#endif
