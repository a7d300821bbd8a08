// Trace viewer: agents, tool calls and approval waits as bars (with their time, tokens
// and cost), and a filterable event log whose rows expand to the full event.
// The rows come from the kernel's fold of the trace (trait `timeline`). A run that took
// only a few milliseconds (a scripted run) is drawn by event order instead of by time,
// so its structure stays visible.

const MIN_TIME_AXIS_MS = 50;

// Without the kernel's rows (a page that only has the trace), the trace's own spans:
// they come in event order, so nesting follows from their parent links.
function rowsFromSpans(trace) {
  const spans = trace.spans || [];
  const parent = new Map(spans.map((s) => [s.spanId, s.parentId]));
  const rows = spans.map((s, i) => {
    let depth = 0;
    for (let p = s.parentId; p && parent.has(p) && depth < 50; p = parent.get(p)) depth += 1;
    return { kind: s.kind, name: s.name || s.agent, depth, start: s.start, end: s.end,
      status: s.status, usage: s.usage || {}, startRank: i };
  });
  rows.forEach((r, i) => {
    let j = i + 1;
    while (j < rows.length && rows[j].depth > r.depth) j += 1;
    r.endRank = j;
  });
  return rows;
}

function timeline(model) {
  const given = model.get("timeline");
  const rows = given && given.length ? given : rowsFromSpans(model.get("trace") || {});
  if (!rows.length) return h("div", { class: "fnb-dim", text: "no steps recorded" });
  const trace = model.get("trace") || {};
  const starts = rows.map((r) => r.start).filter((v) => typeof v === "number");
  const ends = rows.map((r) => r.end ?? r.start).filter((v) => typeof v === "number");
  const t0 = Math.min(trace.startedAt ?? Infinity, ...starts);
  const t1 = Math.max(trace.endedAt ?? -Infinity, ...ends);
  const byTime = Number.isFinite(t0) && Number.isFinite(t1) && t1 - t0 >= MIN_TIME_AXIS_MS;
  const span = byTime ? Math.max(1, t1 - t0) : Math.max(1, rows.length);
  const lines = rows.map((r) => {
    const a = byTime ? (r.start ?? t0) - t0 : r.startRank;
    const b = byTime ? (r.end ?? t1) - t0 : r.endRank;
    const ms = typeof r.start === "number" && typeof r.end === "number" ? r.end - r.start : null;
    const facts = [ms === null ? r.status : fmtMs(ms), fmtUsage(r.usage)].filter(Boolean).join(" · ");
    const bar = h("div", {
      class: `fnb-bar fnb-bar-${r.kind} fnb-bar-${String(r.status).replace(/[^a-z]+/gi, "-")}`,
      style: `left:${(100 * a) / span}%;width:${(100 * Math.max(0, b - a)) / span}%`,
      title: `${r.kind} ${r.name}: ${facts} (${r.status})`,
    });
    return h("div", { class: "fnb-span-row", "data-kind": r.kind },
      h("div", { class: "fnb-span-label", style: `padding-left:${r.depth * 12}px` },
        h("span", { class: "fnb-dim", text: `${r.kind} ` }), h("code", { text: r.name || "?" })),
      h("div", { class: "fnb-span-track" }, bar),
      h("div", { class: "fnb-span-time", text: facts }));
  });
  const axis = byTime ? `time axis: 0 – ${fmtMs(t1 - t0)}`
    : `by event order (the run took ${Number.isFinite(t1 - t0) ? fmtMs(t1 - t0) : "–"})`;
  return h("div", { class: "fnb-timeline" }, ...lines, h("div", { class: "fnb-dim fnb-axis", text: axis }));
}

function eventLog(trace) {
  const events = trace.events || [];
  const t0 = trace.startedAt ?? events[0]?.ts ?? 0;
  const types = [...new Set(events.map((e) => e.type))].sort();
  const select = h("select", { class: "fnb-filter-type" }, h("option", { value: "", text: "all types" }),
    ...types.map((t) => h("option", { value: t, text: t })));
  const input = h("input", { class: "fnb-filter-text", type: "search", placeholder: "filter events…" });
  input.addEventListener("keydown", (e) => e.stopPropagation());
  const countEl = h("span", { class: "fnb-dim" });
  const table = h("table", { class: "fnb-events" });
  const describe = (e) => {
    const { type, runId, threadId, seq, ts, agent, parentId, ...rest } = e;
    if (type === "text-delta" || type === "reasoning-delta") return oneLine(rest.delta, 160);
    return oneLine(rest, 160);
  };
  const open = new Set();
  const draw = () => {
    const type = select.value;
    const needle = input.value.toLowerCase();
    const shown = events.filter((e) => (!type || e.type === type) &&
      (!needle || JSON.stringify(e).toLowerCase().includes(needle)));
    countEl.textContent = ` ${shown.length} of ${events.length} events · click a row for the full event`;
    const rows = [];
    for (const e of shown.slice(0, 2000)) {
      const isOpen = open.has(e.seq);
      const tr = h("tr", { class: `fnb-event${isOpen ? " fnb-open" : ""}`, title: "show the full event" },
        h("td", { text: String(Math.round((e.ts ?? t0) - t0)) }),
        h("td", {}, h("code", { text: e.type })),
        h("td", { text: e.agent || "" }),
        h("td", { text: describe(e) + (e.count > 1 ? ` (${e.count} deltas)` : "") }));
      tr.addEventListener("click", () => {
        if (open.has(e.seq)) open.delete(e.seq); else open.add(e.seq);
        draw();
      });
      rows.push(tr);
      if (isOpen) {
        const full = JSON.stringify(e, null, 2);
        rows.push(h("tr", { class: "fnb-event-detail" }, h("td", { colspan: "4" },
          copyButton(() => full), collapsible(h("pre", { class: "fnb-pre", text: full }), { lines: 40, chars: 4000 }))));
      }
    }
    table.replaceChildren(
      h("tr", {}, h("th", { text: "+ms" }), h("th", { text: "type" }), h("th", { text: "agent" }),
        h("th", { text: "details" })), ...rows);
  };
  select.addEventListener("change", draw);
  input.addEventListener("input", draw);
  draw();
  return h("div", {}, h("div", { class: "fnb-filters" }, select, input, countEl),
    h("div", { class: "fnb-events-wrap" }, table));
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fnb-trace" });
  el.append(root);
  const draw = () => {
    const trace = model.get("trace") || {};
    const usage = fmtUsage(trace.usage);
    const took = typeof trace.startedAt === "number" && typeof trace.endedAt === "number"
      ? fmtMs(trace.endedAt - trace.startedAt) : "";
    root.replaceChildren(
      h("div", { class: "fnb-title" }, "trace ", h("code", { text: trace.traceId || "" }),
        badge(trace.status || ""), h("span", { class: "fnb-dim", text: [took, usage].filter(Boolean).join(" · ") })),
      timeline(model), eventLog(trace));
  };
  draw();
  model.on("change:trace", draw);
  model.on("change:timeline", draw);
  return () => { model.off("change:trace", draw); model.off("change:timeline", draw); };
}

export default { render };
