// Eval view: progress bar while running, per-case table, score chart, and a sample
// drill-down (components + the sample's trace, rendered by the TraceViewer widget).

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function num(v) {
  return typeof v === "number" ? v.toFixed(2) : "–";
}

function passAtK(values) {
  const entries = Object.entries(values || {}).sort((a, b) => Number(a[0]) - Number(b[0]));
  return entries.length ? entries.map(([k, v]) => `@${k}=${num(v)}`).join(" ") : "–";
}

function ms(v) {
  return typeof v === "number" ? `${v < 1000 ? v.toFixed(0) + " ms" : (v / 1000).toFixed(2) + " s"}` : "–";
}

function verdictBadge(ok, text) {
  return h("span", { class: `fnb-badge fnb-badge-${ok ? "completed" : "failed"}`, text });
}

function progress(model) {
  const total = model.get("total");
  const done = model.get("done");
  const pct = total ? (100 * done) / total : 0;
  return h("div", { class: "fnb-progress-row" },
    h("div", { class: "fnb-progress" },
      h("div", { class: "fnb-progress-fill", style: `width:${pct.toFixed(1)}%` })),
    h("span", { class: "fnb-progress-label",
      text: `${done}/${total} samples · ${model.get("passed")} passed` }));
}

function chart(cases, threshold) {
  if (!cases.length) return null;
  const row = 20, labelW = 150, barW = 260;
  const svg = s("svg", { class: "fnb-score-chart", width: labelW + barW + 50,
    height: cases.length * row + 6 });
  cases.forEach((c, i) => {
    const y = i * row + 3;
    const score = typeof c.meanScore === "number" ? c.meanScore : null;
    const good = score !== null && score > 0 && score >= (threshold ?? 0);
    svg.append(
      s("text", { x: 0, y: y + 13 }, c.id.slice(0, 24)),
      s("rect", { x: labelW, y, width: barW, height: row - 6, class: "fnb-chart-track" }),
      s("rect", { x: labelW, y, width: score === null ? 0 : barW * score, height: row - 6,
        class: `fnb-score-bar ${score === null ? "fnb-chart-none" : good ? "fnb-chart-good" : "fnb-chart-bad"}` }),
      s("text", { x: labelW + barW + 6, y: y + 13 }, score === null ? "…" : num(score)));
  });
  if (typeof threshold === "number") {
    const x = labelW + barW * threshold;
    svg.append(s("line", { x1: x, y1: 0, x2: x, y2: cases.length * row + 6,
      class: "fnb-chart-threshold", "stroke-dasharray": "3,2" }));
  }
  return svg;
}

function caseTable(model, cases) {
  const selected = model.get("selected") || {};
  const open = (caseId, index) => model.send({ type: "open-sample", caseId, index });
  const rows = [];
  for (const c of cases) {
    const passedCount = c.samples.filter((x) => x.passed).length;
    rows.push(h("tr", { class: "fnb-case-row" },
      h("td", {}, h("code", { text: c.id })),
      h("td", { text: `${passedCount}/${c.samples.length}` }),
      h("td", { text: num(c.passRate) }), h("td", { text: num(c.meanScore) }),
      h("td", { text: passAtK(c.passAtK) }), h("td", { text: ms(c.latencyMs) }),
      h("td", {}, c.finished ? verdictBadge(c.passRate >= (model.get("result").threshold ?? 0),
        c.passRate >= (model.get("result").threshold ?? 0) ? "passed" : "failed")
        : badge("running"))));
    for (const x of c.samples) {
      const isSel = selected.caseId === c.id && selected.index === x.index;
      const tr = h("tr", {
        class: `fnb-sample-row fnb-clickable${isSel ? " fnb-selected" : ""}`,
        "data-case": c.id, "data-index": String(x.index), title: "show components and trace",
        onclick: () => open(c.id, x.index) },
      h("td", { class: "fnb-dim", text: `  sample ${x.index}` }),
      h("td", { text: x.passed ? "✓" : "✗" }), h("td", {}), h("td", { text: num(x.score) }),
      h("td", {}), h("td", { text: ms(x.latencyMs) }),
      h("td", { class: x.error ? "fnb-error" : "fnb-dim", text: x.note || "" }));
      rows.push(tr);
    }
  }
  return h("table", { class: "fnb-grid fnb-eval-table" },
    h("thead", {}, h("tr", {}, ...["case", "passed", "pass rate", "mean score", "pass@k",
      "latency", ""].map((t) => h("th", { text: t })))),
    h("tbody", {}, ...rows));
}

function sampleDetail(model) {
  const x = model.get("selected") || {};
  if (x.caseId === undefined) return null;
  const comps = (x.components || []).map((p) => h("tr", {},
    h("td", {}, h("code", { text: p.name })), h("td", { text: num(p.score) }),
    h("td", { text: p.required ? "required" : "" }), h("td", { text: asText(p.details ?? "") })));
  return h("div", { class: "fnb-sample-detail" },
    h("div", { class: "fnb-title" }, h("b", { text: `${x.caseId} · sample ${x.index}` }),
      verdictBadge(x.passed, x.passed ? "passed" : "failed"), h("span", { class: "fnb-dim", text: `score ${num(x.score)}` })),
    h("table", { class: "fnb-grid fnb-components" },
      h("thead", {}, h("tr", {}, ...["scorer", "score", "", "details"].map((t) => h("th", { text: t })))),
      h("tbody", {}, ...comps)),
    h("div", { class: "fnb-label", text: "trajectory" }),
    h("div", {}, h("code", { text: (x.trajectory || []).join(" → ") || "(no tool calls)" })),
    h("div", { class: "fnb-label", text: "final text" }),
    h("pre", { class: "fnb-pre", text: x.finalText || "" }),
    x.error ? h("div", { class: "fnb-error", text: x.error }) : null);
}

function render({ model, el, host }) {
  const root = h("div", { class: "flowai fnb-eval" });
  const body = h("div");
  const traceBox = h("div", { class: "fnb-eval-trace" });
  root.append(body, traceBox);
  el.append(root);
  let shownRef = "";
  const draw = () => {
    const cases = model.get("cases") || [];
    const result = model.get("result") || {};
    const status = model.get("status");
    const finished = status === "finished" && typeof result.aggregateScore === "number";
    const verdict = finished
      ? h("span", { class: "fnb-verdict", text:
        `${result.passed ? "PASSED" : "FAILED"} ${num(result.aggregateScore)} (threshold ${num(result.threshold)})` })
      : null;
    body.replaceChildren(...[
      h("div", { class: "fnb-title" }, h("b", { text: `eval ${model.get("name") || ""}` }),
        finished ? verdictBadge(result.passed, result.passed ? "passed" : "failed") : badge(status),
        verdict),
      progress(model), chart(cases, result.threshold), caseTable(model, cases),
      sampleDetail(model),
      model.get("error") ? h("div", { class: "fnb-error", text: model.get("error") }) : null,
    ].filter(Boolean));
  };
  const showTrace = async () => {
    const ref = model.get("trace_ref");
    if (!ref || ref === shownRef || !host) return;
    shownRef = ref;
    const child = h("div");
    traceBox.replaceChildren(child);
    try {
      const widget = await host.getWidget(ref);
      await widget.render({ el: child });
    } catch (err) {
      child.replaceChildren(h("div", { class: "fnb-error", text: `cannot show the trace: ${err}` }));
    }
  };
  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  };
  draw();
  showTrace();
  const names = ["name", "status", "total", "done", "passed", "cases", "result", "error", "selected"];
  for (const name of names) model.on(`change:${name}`, schedule);
  model.on("change:trace_ref", showTrace);
  return () => {
    for (const name of names) model.off(`change:${name}`, schedule);
    model.off("change:trace_ref", showTrace);
  };
}

export default { render };
