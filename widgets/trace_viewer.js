// Trace viewer: agents and tools as bars against time, and a filterable event log.

function spanDepths(spans) {
  const parent = new Map(spans.map((s) => [s.spanId, s.parentId]));
  return spans.map((s) => {
    let depth = 0;
    let p = s.parentId;
    while (p && parent.has(p) && depth < 20) { depth += 1; p = parent.get(p); }
    return depth;
  });
}

function timeline(trace) {
  const spans = [...(trace.spans || [])].sort((a, b) => (a.start ?? 0) - (b.start ?? 0));
  if (!spans.length) return h("div", { class: "fa-dim", text: "no spans recorded" });
  const t0 = Math.min(trace.startedAt ?? Infinity, ...spans.map((s) => s.start ?? Infinity));
  const t1 = Math.max(trace.endedAt ?? -Infinity, ...spans.map((s) => s.end ?? s.start ?? -Infinity));
  const total = Math.max(1, t1 - t0);
  const depths = spanDepths(spans);
  const rows = spans.map((s, i) => {
    const start = (s.start ?? t0) - t0;
    const end = (s.end ?? t1) - t0;
    const bar = h("div", {
      class: `fa-bar fa-bar-${s.kind} fa-bar-${s.status || "running"}`,
      style: `left:${(100 * start) / total}%;width:${Math.max(0.4, (100 * (end - start)) / total)}%`,
      title: `${s.kind} ${s.name}: ${(end - start).toFixed(0)} ms (${s.status || "running"})`,
    });
    return h("div", { class: "fa-span-row" },
      h("div", { class: "fa-span-label", style: `padding-left:${depths[i] * 12}px` },
        h("span", { class: "fa-dim", text: s.kind === "tool" ? "tool " : "agent " }),
        h("code", { text: s.name || s.agent || "?" })),
      h("div", { class: "fa-span-track" }, bar));
  });
  return h("div", { class: "fa-timeline" }, ...rows,
    h("div", { class: "fa-dim fa-axis", text: `0 – ${total.toFixed(0)} ms` }));
}

function eventLog(trace) {
  const events = trace.events || [];
  const t0 = trace.startedAt ?? events[0]?.ts ?? 0;
  const types = [...new Set(events.map((e) => e.type))].sort();
  const select = h("select", { class: "fa-filter-type" }, h("option", { value: "", text: "all types" }),
    ...types.map((t) => h("option", { value: t, text: t })));
  const input = h("input", { class: "fa-filter-text", type: "search", placeholder: "filter events…" });
  const countEl = h("span", { class: "fa-dim" });
  const table = h("table", { class: "fa-events" });
  const describe = (e) => {
    const { type, runId, threadId, seq, ts, agent, parentId, ...rest } = e;
    if (type === "text-delta" || type === "reasoning-delta") return oneLine(rest.delta, 160);
    return oneLine(rest, 160);
  };
  const draw = () => {
    const type = select.value;
    const needle = input.value.toLowerCase();
    const shown = events.filter((e) => (!type || e.type === type) &&
      (!needle || JSON.stringify(e).toLowerCase().includes(needle)));
    countEl.textContent = ` ${shown.length} of ${events.length} events`;
    table.replaceChildren(
      h("tr", {}, h("th", { text: "+ms" }), h("th", { text: "type" }), h("th", { text: "agent" }),
        h("th", { text: "details" })),
      ...shown.slice(0, 2000).map((e) => h("tr", { class: "fa-event" },
        h("td", { text: String(Math.round((e.ts ?? t0) - t0)) }),
        h("td", {}, h("code", { text: e.type })),
        h("td", { text: e.agent || "" }),
        h("td", { text: describe(e) + (e.count > 1 ? ` (${e.count} deltas)` : "") }))));
  };
  select.addEventListener("change", draw);
  input.addEventListener("input", draw);
  draw();
  return h("div", {}, h("div", { class: "fa-filters" }, select, input, countEl), table);
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fa-trace" });
  el.append(root);
  const draw = () => {
    const trace = model.get("trace") || {};
    root.replaceChildren(
      h("div", { class: "fa-title" }, "trace ", h("code", { text: trace.traceId || "" }), " ",
        badge(trace.status || "")),
      timeline(trace), eventLog(trace));
  };
  draw();
  model.on("change:trace", draw);
  return () => model.off("change:trace", draw);
}

export default { render };
