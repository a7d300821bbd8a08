// Pure helpers of the Studio page: plan diffs and trace step rows.

function show(value) {
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

// Rows {where, before, after, change: "changed" | "added" | "removed"} between two
// versions of a plan: body fields, then actions by position, field by field.
export function diffPlans(before, after) {
  const rows = [];
  const { actions: _a, ...bodyA } = before.body || {};
  const { actions: _b, ...bodyB } = after.body || {};
  for (const key of new Set([...Object.keys(bodyA), ...Object.keys(bodyB)])) {
    if (show(bodyA[key]) !== show(bodyB[key])) {
      rows.push({ where: key, before: show(bodyA[key]), after: show(bodyB[key]),
        change: key in bodyA ? (key in bodyB ? "changed" : "removed") : "added" });
    }
  }
  const xs = before.actions || [];
  const ys = after.actions || [];
  for (let i = 0; i < Math.max(xs.length, ys.length); i += 1) {
    const x = xs[i];
    const y = ys[i];
    const label = `action ${i + 1}`;
    if (!x || !y) {
      const a = x || y;
      rows.push({ where: `${label} (${a.kind})`, before: x ? show(x.payload) : undefined,
        after: y ? show(y.payload) : undefined, change: x ? "removed" : "added" });
      continue;
    }
    if (x.kind !== y.kind) {
      rows.push({ where: `${label} kind`, before: x.kind, after: y.kind, change: "changed" });
    }
    const px = x.payload || {};
    const py = y.payload || {};
    for (const key of new Set([...Object.keys(px), ...Object.keys(py)])) {
      if (show(px[key]) !== show(py[key])) {
        rows.push({ where: `${label} ${key}`, before: show(px[key]), after: show(py[key]),
          change: "changed" });
      }
    }
  }
  return { rows };
}

// One row per span (agent or tool invocation), in start order, with its depth,
// duration, and (for agents) the tokens and cost its agent-finish reported.
export function stepRows(trace) {
  const usage = new Map();
  const open = new Map();
  for (const e of trace.events || []) {
    if (e.type === "agent-start") {
      if (!open.has(e.agent)) open.set(e.agent, []);
      open.get(e.agent).push(e.seq);
    } else if (e.type === "agent-finish") {
      const seq = open.get(e.agent)?.pop();
      if (seq !== undefined) usage.set(`agent:${e.agent}:${seq}`, e.usage || {});
    }
  }
  const spans = [...(trace.spans || [])].sort((a, b) => (a.start ?? 0) - (b.start ?? 0));
  const parent = new Map(spans.map((s) => [s.spanId, s.parentId]));
  return spans.map((s) => {
    let depth = 0;
    for (let p = s.parentId; p && parent.has(p) && depth < 20; p = parent.get(p)) depth += 1;
    const u = usage.get(s.spanId);
    return {
      kind: s.kind, name: s.name, agent: s.agent, depth, status: s.status,
      durationMs: s.end != null && s.start != null ? s.end - s.start : null,
      inputTokens: u ? (u.inputTokens ?? 0) : null, outputTokens: u ? (u.outputTokens ?? 0) : null,
      costUsd: u && u.costUsd != null ? Number(u.costUsd) : null,
    };
  });
}
