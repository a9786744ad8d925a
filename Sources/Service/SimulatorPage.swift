/// The campaign simulator: one page, its style sheet and its script, served by the binary (no
/// external assets). It talks to /health and /score like any other client.
enum SimulatorPage {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Campaign simulator</title>
        <link rel="stylesheet" href="/app.css">
        </head>
        <body>
        <header>
          <h1>Campaign simulator</h1>
          <p id="model" class="muted">Loading the model…</p>
        </header>
        <main>
          <form id="controls" novalidate>
            <fieldset>
              <legend>Contact list</legend>
              <label for="file">CSV file</label>
              <input id="file" name="file" type="file" accept=".csv,text/csv">
              <button id="use-sample" type="button">Use the sample list</button>
              <p id="source" class="muted" aria-live="polite">No file chosen.</p>
            </fieldset>
            <fieldset>
              <legend>Economics</legend>
              <label for="margin">Margin (share of incremental revenue)</label>
              <input id="margin" name="margin" type="number" step="any" min="0" max="1" inputmode="decimal">
              <div id="costs"></div>
              <label for="policy">Policy</label>
              <select id="policy" name="policy">
                <option value="bestN">best N (maximize expected profit)</option>
                <option value="positive">every positive expected profit</option>
                <option value="topn">top N</option>
              </select>
              <label for="topn">Top N</label>
              <input id="topn" name="topn" type="number" min="0" step="1" disabled>
            </fieldset>
            <button id="score" type="submit">Score</button>
            <p id="status" class="muted" role="status" aria-live="polite"></p>
            <div id="error" role="alert" hidden></div>
          </form>
          <section id="results" hidden aria-labelledby="results-title">
            <h2 id="results-title">Expected result</h2>
            <dl id="summary">
              <div><dt>Rows scored</dt><dd id="s-rows"></dd></div>
              <div><dt>Contacts</dt><dd id="s-contacts"></dd></div>
              <div><dt>Expected incremental revenue</dt><dd id="s-revenue"></dd></div>
              <div><dt>Cost</dt><dd id="s-cost"></dd></div>
              <div><dt>Expected profit</dt><dd id="s-profit"></dd></div>
            </dl>
            <p id="s-arms" class="muted"></p>
            <figure>
              <svg id="chart" viewBox="0 0 720 300" role="img" aria-labelledby="chart-caption"></svg>
              <figcaption id="chart-caption">Expected profit against the number of customers contacted, in rank order of predicted uplift; the marker is the chosen N.</figcaption>
            </figure>
            <button id="download" type="button">Download the scored CSV</button>
            <h2>First rows of the contact list</h2>
            <div class="table-wrap" tabindex="0" aria-label="First rows of the contact list"><table id="rows"><thead></thead><tbody></tbody></table></div>
          </section>
        </main>
        <script src="/app.js"></script>
        </body>
        </html>

        """

    static let style = """
        :root { --ink: #1d2733; --muted: #5a6573; --line: #d5dbe3; --accent: #0b5cad; --bad: #a8200d; font-family: system-ui, sans-serif; color: var(--ink); }
        body { margin: 0 auto; max-width: 1180px; padding: 1rem 1.5rem 3rem; line-height: 1.4; }
        h1 { margin: 0.2rem 0; font-size: 1.6rem; }
        h2 { font-size: 1.2rem; margin: 1.2rem 0 0.5rem; }
        .muted { color: var(--muted); margin: 0.3rem 0; }
        main { display: grid; grid-template-columns: 300px minmax(0, 1fr); gap: 1.5rem; align-items: start; }
        #results { min-width: 0; }
        fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 0.8rem; padding: 0.6rem 0.8rem; }
        legend { font-weight: 600; }
        label { display: block; margin-top: 0.5rem; font-size: 0.92rem; }
        input[type=number], select { width: 100%; box-sizing: border-box; padding: 0.3rem; font: inherit; }
        button { font: inherit; padding: 0.4rem 0.9rem; margin-top: 0.5rem; border: 1px solid var(--accent); border-radius: 4px; background: #fff; color: var(--accent); cursor: pointer; }
        button[type=submit] { background: var(--accent); color: #fff; }
        :focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
        #error { border-left: 4px solid var(--bad); background: #fdf0ee; color: var(--bad); padding: 0.5rem 0.7rem; white-space: pre-wrap; }
        #summary { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 0.5rem; margin: 0; }
        #summary div { border: 1px solid var(--line); border-radius: 6px; padding: 0.4rem 0.6rem; }
        dt { font-size: 0.8rem; color: var(--muted); }
        dd { margin: 0; font-size: 1.15rem; font-variant-numeric: tabular-nums; }
        figure { margin: 0.8rem 0; }
        svg { width: 100%; height: auto; max-height: 340px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
        figcaption { font-size: 0.85rem; color: var(--muted); }
        .table-wrap { overflow: auto; max-height: 420px; }
        table { border-collapse: collapse; font-size: 0.82rem; font-variant-numeric: tabular-nums; }
        th, td { border-bottom: 1px solid var(--line); padding: 0.2rem 0.5rem; text-align: right; white-space: nowrap; }
        th { position: sticky; top: 0; background: #f4f6f9; }
        @media (max-width: 900px) { main { grid-template-columns: 1fr; } #summary { grid-template-columns: repeat(2, 1fr); } }

        """

    static let script = """
        "use strict";
        const $ = (id) => document.getElementById(id);
        let upload = null, uploadName = "", arms = [];

        function fmt(n) { return Number(n).toLocaleString("en-US", { maximumFractionDigits: 2 }); }

        function showError(message) {
          $("error").textContent = message;
          $("error").hidden = !message;
        }

        async function loadModel() {
          const r = await fetch("/health");
          const h = await r.json();
          $("model").textContent = `Model: ${h.learner}, format ${h.model_format_version}, checksum ${h.model_checksum.slice(0, 12)}…; needs the columns ${h.required_columns.join(", ")}.`;
          const e = h.economics || {};
          arms = e.arms || [];
          if (e.margin !== undefined) $("margin").value = String(e.margin);
          if (e.policy) $("policy").value = e.policy;
          const costs = $("costs");
          arms.forEach((arm, k) => {
            const label = document.createElement("label");
            label.htmlFor = `cost-${k}`;
            label.textContent = `Cost per contact: ${arm}`;
            const input = document.createElement("input");
            Object.assign(input, { id: `cost-${k}`, type: "number", step: "any", min: "0", inputMode: "decimal" });
            input.dataset.arm = arm;
            input.value = String((e.costs || {})[arm] ?? "");
            costs.append(label, input);
          });
          $("topn").disabled = $("policy").value !== "topn";
        }

        function form() {
          const data = new FormData();
          data.append("margin", $("margin").value.trim());
          for (const input of $("costs").querySelectorAll("input")) {
            if (input.value.trim() !== "") data.append("cost", `${input.dataset.arm}=${input.value.trim()}`);
          }
          data.append("policy", $("policy").value);
          if ($("policy").value === "topn") data.append("topn", $("topn").value.trim());
          data.append("file", upload, uploadName);
          return data;
        }

        function errorText(body, status) {
          const e = (body && body.error) || {};
          return e.text || e.message || `The service answered ${status}.`;
        }

        async function score(event) {
          event.preventDefault();
          showError("");
          if (!upload) { showError("Choose a CSV file or use the sample list first."); $("file").focus(); return; }
          $("status").textContent = "Scoring…";
          $("score").disabled = true;
          try {
            const r = await fetch("/score", { method: "POST", body: form(), headers: { Accept: "application/json" } });
            const body = await r.json().catch(() => null);
            if (!r.ok) { $("status").textContent = ""; showError(errorText(body, r.status)); $("results").hidden = true; return; }
            render(body);
            $("status").textContent = `Scored ${fmt(body.summary.rows)} rows of ${uploadName}.`;
          } catch (e) {
            $("status").textContent = "";
            showError(`The request failed: ${e.message}`);
          } finally {
            $("score").disabled = false;
          }
        }

        function setValue(id, value, text) {
          $(id).dataset.value = String(value);
          $(id).textContent = text;
        }

        function render(body) {
          const s = body.summary;
          setValue("s-rows", s.rows, fmt(s.rows));
          setValue("s-contacts", s.contacts, fmt(s.contacts));
          setValue("s-revenue", s.expected_incremental_revenue, fmt(s.expected_incremental_revenue));
          setValue("s-cost", s.cost, fmt(s.cost));
          setValue("s-profit", s.expected_profit, fmt(s.expected_profit));
          $("s-arms").textContent = "Contacts per arm: " + Object.entries(s.contacts_per_arm).map(([a, n]) => `${a} ${fmt(n)}`).join(", ");
          chart(body.profit_curve, s.contacts, s.expected_profit);
          const thead = $("rows").tHead, tbody = $("rows").tBodies[0];
          thead.replaceChildren(row(body.columns, "th"));
          tbody.replaceChildren(...body.rows.map((r) => row(r, "td")));
          $("results").hidden = false;
        }

        function row(values, tag) {
          const tr = document.createElement("tr");
          for (const v of values) {
            const cell = document.createElement(tag);
            if (tag === "th") cell.scope = "col";
            cell.textContent = v;
            tr.append(cell);
          }
          return tr;
        }

        function chart(curve, chosen, chosenProfit) {
          const svg = $("chart"), ns = "http://www.w3.org/2000/svg";
          const W = 720, H = 300, L = 70, R = 20, T = 20, B = 40;
          const maxX = Math.max(1, curve[curve.length - 1].contacts);
          const ys = curve.map((p) => p.profit).concat([0, chosenProfit]);
          const minY = Math.min(...ys), maxY = Math.max(...ys), spanY = maxY - minY || 1;
          const x = (c) => L + (c / maxX) * (W - L - R), y = (p) => T + (1 - (p - minY) / spanY) * (H - T - B);
          const el = (name, attrs, text) => {
            const e = document.createElementNS(ns, name);
            for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
            if (text !== undefined) e.textContent = text;
            return e;
          };
          svg.replaceChildren(
            el("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#9aa5b1", "stroke-dasharray": "4 3" }),
            el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#5a6573" }),
            el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#5a6573" }),
            el("polyline", { points: curve.map((p) => `${x(p.contacts)},${y(p.profit)}`).join(" "), fill: "none", stroke: "#0b5cad", "stroke-width": 2 }),
            el("line", { x1: x(chosen), y1: T, x2: x(chosen), y2: H - B, stroke: "#f0a500", "stroke-width": 2 }),
            el("circle", { cx: x(chosen), cy: y(chosenProfit), r: 5, fill: "#f0a500" }),
            // The label sits on the side of the marker with more room.
            el("text", { x: x(chosen) + (chosen > maxX / 2 ? -8 : 8), y: T + 14, "font-size": 13, "text-anchor": chosen > maxX / 2 ? "end" : "start" },
              `chosen N = ${fmt(chosen)}: expected profit ${fmt(chosenProfit)}`),
            el("text", { x: L - 6, y: T + 4, "text-anchor": "end", "font-size": 12 }, fmt(maxY)),
            el("text", { x: L - 6, y: H - B, "text-anchor": "end", "font-size": 12 }, fmt(minY)),
            el("text", { x: L, y: H - B + 18, "font-size": 12 }, "0"),
            el("text", { x: W - R, y: H - B + 18, "text-anchor": "end", "font-size": 12 }, fmt(maxX)),
            el("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", "font-size": 12 }, "customers contacted (ranked by predicted uplift)"),
          );
        }

        async function download() {
          showError("");
          const r = await fetch("/score", { method: "POST", body: form(), headers: { Accept: "text/csv" } });
          if (!r.ok) { showError(errorText(await r.json().catch(() => null), r.status)); return; }
          const url = URL.createObjectURL(await r.blob());
          const a = Object.assign(document.createElement("a"), { href: url, download: "scored_" + uploadName });
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(url), 10000);
        }

        $("file").addEventListener("change", () => {
          const f = $("file").files[0];
          upload = f || null;
          uploadName = f ? f.name : "";
          $("source").textContent = f ? `${f.name} (${fmt(f.size)} bytes)` : "No file chosen.";
        });
        $("use-sample").addEventListener("click", async () => {
          const r = await fetch("/sample.csv");
          upload = await r.blob();
          uploadName = "sample.csv";
          $("source").textContent = `The sample list (${fmt(upload.size)} bytes).`;
        });
        $("policy").addEventListener("change", () => { $("topn").disabled = $("policy").value !== "topn"; });
        $("controls").addEventListener("submit", score);
        $("download").addEventListener("click", download);
        loadModel().catch((e) => showError(`Cannot reach the service: ${e.message}`));

        """
}
