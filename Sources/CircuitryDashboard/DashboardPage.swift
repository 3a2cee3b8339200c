#if Dashboard
/// `GET /`: the dashboard page, served from the binary. Plain HTML, CSS and a little JavaScript: no build step, no
/// CDN, nothing fetched but this server's own API.
///
/// It lists every circuit (`/api/circuits`), its state as a colour, since when and what comes next as relative times
/// (counted on the server's clock: the page keeps the offset between `read_at` and its own), the reason and the
/// process, the counts, with filters by state and name prefix; and it follows `/api/events`, updating a circuit's row
/// as each transition arrives and listing the latest transitions. It reloads the whole list every 15 s, for what time
/// alone changes (an open period that ends writes nothing until the next call). Each row is
/// `<tr data-circuit="NAME" data-state="STATE">`.
enum DashboardPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Circuitry</title>
        <style>
        :root { --closed: #2e7d32; --open: #c62828; --half-open: #ef8f00; --ink: #1d2430; --faint: #6b7280;
                --line: #e5e7eb; --bg: #f8fafc; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
               background: var(--bg); }
        header { display: flex; align-items: center; gap: 1.5rem; padding: .8rem 1.5rem; background: #111827;
                 color: #f9fafb; }
        header h1 { font-size: 1.1rem; margin: 0; font-weight: 600; }
        #live { font-size: .85rem; color: #9ca3af; }
        #live.on::before { content: "● "; color: #4ade80; }
        #live.off::before { content: "● "; color: #f87171; }
        main { padding: 1rem 1.5rem; display: grid; grid-template-columns: minmax(0, 1fr) 22rem; gap: 1.5rem; }
        @media (max-width: 1100px) { main { grid-template-columns: 1fr; } }
        .counts { display: flex; gap: .75rem; margin-bottom: 1rem; flex-wrap: wrap; }
        .count { background: #fff; border: 1px solid var(--line); border-radius: .5rem; padding: .5rem .9rem;
                 min-width: 7rem; }
        .count b { display: block; font-size: 1.5rem; }
        .count.open b { color: var(--open); } .count.half-open b { color: var(--half-open); }
        .count.closed b { color: var(--closed); }
        .filters { display: flex; gap: .75rem; align-items: center; margin-bottom: .75rem; flex-wrap: wrap; }
        .filters label { display: inline-flex; gap: .3rem; align-items: center; }
        .filters input[type=text] { padding: .3rem .5rem; border: 1px solid var(--line); border-radius: .3rem;
                                    width: 16rem; }
        table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: var(--faint); }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.name { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
        .state { display: inline-block; padding: .1rem .5rem; border-radius: 1rem; color: #fff; font-weight: 600;
                 font-size: .8rem; white-space: nowrap; }
        .state.closed { background: var(--closed); } .state.open { background: var(--open); }
        .state.half-open { background: var(--half-open); }
        tr[data-state=open] td { background: #fef2f2; } tr[data-state=half-open] td { background: #fffbeb; }
        tr.flash td { animation: flash 1.5s ease-out; }
        @keyframes flash { from { background: #fde68a; } }
        .faint { color: var(--faint); }
        .empty { padding: 2rem; text-align: center; color: var(--faint); background: #fff;
                 border: 1px solid var(--line); }
        aside h2 { font-size: .95rem; margin: 0 0 .5rem; }
        #feed { list-style: none; margin: 0; padding: 0; background: #fff; border: 1px solid var(--line);
                max-height: 75vh; overflow-y: auto; }
        #feed li { padding: .45rem .6rem; border-bottom: 1px solid var(--line); }
        #feed li .when { color: var(--faint); font-size: .8rem; }
        #feed li .circuit { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
        </style>
        </head>
        <body>
        <header><h1>Circuitry</h1><span id="live" class="off">connecting</span>
          <span id="error" role="alert"></span></header>
        <main>
        <section>
          <div class="counts">
            <div class="count"><span>circuits</span><b id="count-all">0</b></div>
            <div class="count open"><span>open</span><b id="count-open">0</b></div>
            <div class="count half-open"><span>half-open</span><b id="count-half-open">0</b></div>
            <div class="count closed"><span>closed</span><b id="count-closed">0</b></div>
          </div>
          <div class="filters">
            <label><input type="checkbox" name="state" value="open" checked> open</label>
            <label><input type="checkbox" name="state" value="half-open" checked> half-open</label>
            <label><input type="checkbox" name="state" value="closed" checked> closed</label>
            <label>name starts with <input type="text" id="prefix" placeholder="send-email/"></label>
          </div>
          <table>
            <thead><tr><th>circuit</th><th>state</th><th>since</th><th>next</th><th>requests</th>
              <th>failures</th><th>in a row</th><th>why</th><th>by</th></tr></thead>
            <tbody id="circuits"></tbody>
          </table>
          <div id="empty" class="empty" hidden>no circuits</div>
        </section>
        <aside>
          <h2>Transitions, as they happen</h2>
          <ul id="feed"><li class="faint" id="feed-empty">none since this page opened</li></ul>
        </aside>
        </main>
        <script>
        "use strict";
        const circuits = new Map();   // name -> the JSON object of /api/circuits
        let offset = 0;               // the server's clock minus this browser's, in ms
        const $ = (id) => document.getElementById(id);

        function serverNow() { return Date.now() + offset; }

        function roughly(ms) {
          let s = Math.round(Math.abs(ms) / 1000);
          if (s < 60) return s + "s";
          const m = Math.floor(s / 60); s %= 60;
          if (m < 60) return m + "m" + (s ? s + "s" : "");
          const h = Math.floor(m / 60);
          if (h < 48) return h + "h" + (m % 60 ? (m % 60) + "m" : "");
          return Math.floor(h / 24) + "d";
        }

        function sinceText(c) {
          if (!c.since) return "-";
          return c.state + " for " + roughly(serverNow() - Date.parse(c.since));
        }

        function nextText(c) {
          if (c.state === "open" && c.override === null && c.retry_after) {
            const left = Date.parse(c.retry_after) - serverNow();
            return left > 0 ? "probe in " + roughly(left) : "a probe may run now";
          }
          if (c.override === "forced-open" && c.override_until) {
            const left = Date.parse(c.override_until) - serverNow();
            return left > 0 ? "forced open, ends in " + roughly(left) : "forced open, ended";
          }
          return c.next || "-";
        }

        function cell(text, className) {
          const td = document.createElement("td");
          if (className) td.className = className;
          td.textContent = text;
          return td;
        }

        function row(c) {
          const tr = document.createElement("tr");
          tr.dataset.circuit = c.name;
          tr.dataset.state = c.state;
          tr.append(cell(c.name, "name"));
          const state = document.createElement("td");
          const badge = document.createElement("span");
          badge.className = "state " + c.state;
          badge.textContent = c.state;
          state.append(badge);
          tr.append(state, cell(sinceText(c), "since"), cell(nextText(c), "next"), cell(c.requests, "num"),
            cell(c.failures, "num"), cell(c.consecutive_failures, "num"), cell(c.why || "-"),
            cell(c.by || "-", "faint"));
          return tr;
        }

        function wanted() {
          const states = [...document.querySelectorAll("input[name=state]:checked")].map((box) => box.value);
          const prefix = $("prefix").value;
          return (c) => states.includes(c.state) && c.name.startsWith(prefix);
        }

        function render(flashed) {
          const all = [...circuits.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          for (const state of ["open", "half-open", "closed"]) {
            $("count-" + state).textContent = all.filter((c) => c.state === state).length;
          }
          $("count-all").textContent = all.length;
          const shown = all.filter(wanted());
          const body = $("circuits");
          body.replaceChildren(...shown.map((c) => {
            const tr = row(c);
            if (flashed && c.name === flashed) tr.classList.add("flash");
            return tr;
          }));
          $("empty").hidden = shown.length > 0;
          $("empty").textContent = all.length === 0 ? "no circuits" : "no circuits pass the filters";
        }

        function tick() {
          for (const tr of $("circuits").children) {
            const c = circuits.get(tr.dataset.circuit);
            if (!c) continue;
            tr.querySelector(".since").textContent = sinceText(c);
            tr.querySelector(".next").textContent = nextText(c);
          }
        }

        function learnClock(c) {
          if (c && c.read_at) offset = Date.parse(c.read_at) - Date.now();
        }

        async function loadAll() {
          try {
            const response = await fetch("/api/circuits", { cache: "no-store" });
            const list = await response.json();
            if (!response.ok) throw new Error(list.message || response.statusText);
            circuits.clear();
            for (const c of list) circuits.set(c.name, c);
            learnClock(list[0]);
            $("error").textContent = "";
            render();
          } catch (error) {
            $("error").textContent = "cannot read the circuits: " + error.message;
          }
        }

        async function loadOne(name) {
          const path = "/api/circuits/" + name.split("/").map(encodeURIComponent).join("/");
          const response = await fetch(path, { cache: "no-store" });
          if (response.status === 404) { circuits.delete(name); render(); return; }
          const c = await response.json();
          if (!response.ok) return;
          delete c.history;
          learnClock(c);
          circuits.set(c.name, c);
          render(c.name);
        }

        function addToFeed(t) {
          const empty = $("feed-empty");
          if (empty) empty.remove();
          const li = document.createElement("li");
          li.dataset.id = t.id;
          const when = document.createElement("div");
          when.className = "when";
          when.textContent = new Date(Date.parse(t.at)).toLocaleTimeString() + " · #" + t.id + " · " + t.actor;
          const what = document.createElement("div");
          const circuit = document.createElement("span");
          circuit.className = "circuit";
          circuit.textContent = t.circuit;
          const badge = document.createElement("span");
          badge.className = "state " + t.to_state;
          badge.textContent = t.to_state;
          what.append(circuit, " ", t.from_state + " → ", badge, " " + t.reason);
          li.append(when, what);
          $("feed").prepend(li);
          while ($("feed").children.length > 100) $("feed").lastElementChild.remove();
        }

        function follow() {
          // From the latest transition the list reflects, so that none between the read and the stream is missed.
          const ids = [...circuits.values()].map((c) => (c.last_transition ? c.last_transition.id : 0));
          const after = ids.length ? Math.max(...ids) : 0;
          const events = new EventSource("/api/events" + (after > 0 ? "?after=" + after : ""));
          events.onopen = () => { $("live").className = "on"; $("live").textContent = "live"; };
          events.onerror = () => { $("live").className = "off"; $("live").textContent = "reconnecting"; };
          events.addEventListener("transition", (event) => {
            const t = JSON.parse(event.data);
            addToFeed(t);
            // The row changes at once; the whole object follows from the API.
            const known = circuits.get(t.circuit);
            if (known) {
              known.state = t.to_state;
              known.since = t.at;
              known.why = t.reason;
              known.by = t.actor;
              render(t.circuit);
            }
            loadOne(t.circuit).catch(() => {});
          });
          // Transitions pruned before the stream read them: the circuit's state is read instead.
          events.addEventListener("missed", (event) => { loadOne(JSON.parse(event.data).circuit).catch(() => {}); });
        }

        for (const box of document.querySelectorAll("input[name=state]")) box.addEventListener("change", () => render());
        $("prefix").addEventListener("input", () => render());
        loadAll().then(follow);
        setInterval(tick, 1000);
        setInterval(loadAll, 15000);
        </script>
        </body>
        </html>
        """#
}
#endif
