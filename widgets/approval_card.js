// Approval card, outcome first: what approving does, what is asked (plan actions
// numbered from 1, each with a checkbox: untick to approve the others only), what
// changed since the previous version after a revise, the buttons; then the decision,
// who decided and what happened.

function payloadOf(action) {
  if (!action || typeof action !== "object") return action;
  if ("payload" in action) return action.payload;
  const { kind: _k, references: _r, ...rest } = action;
  return rest;
}

// Field-level differences between two versions of a plan's actions.
function planDiff(before, after) {
  const old = before?.actions || [];
  const now = after?.actions || [];
  const lines = [];
  for (let i = 0; i < Math.max(old.length, now.length); i += 1) {
    const a = old[i], b = now[i];
    if (!a) { lines.push([`#${i + 1} added`, "", oneLine(b)]); continue; }
    if (!b) { lines.push([`#${i + 1} removed`, oneLine(a), ""]); continue; }
    if (a.kind !== b.kind) lines.push([`#${i + 1} kind`, a.kind, b.kind]);
    const pa = payloadOf(a) || {}, pb = payloadOf(b) || {};
    for (const key of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
      const va = JSON.stringify(pa[key]), vb = JSON.stringify(pb[key]);
      if (va !== vb) lines.push([`#${i + 1} ${key}`, va ?? "—", vb ?? "—"]);
    }
  }
  return lines;
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fnb-approval" });
  el.append(root);
  const titleEl = h("div", { class: "fnb-title" });
  const contextEl = h("div", { class: "fnb-context fnb-dim" });
  const outcomeEl = h("div", { class: "fnb-outcome" });
  const diffEl = h("div", { class: "fnb-diff" });
  const body = h("div", { class: "fnb-asked" });
  const feedback = h("textarea", { class: "fnb-feedback", rows: "2",
    placeholder: "feedback (optional; used by Revise and Reject)" });
  // Keys typed here are ours: JupyterLab's notebook shortcuts must not see them.
  feedback.addEventListener("keydown", (e) => e.stopPropagation());
  let chosen = null; // indexes of the ticked actions (plan approvals)
  const buttons = ["approve", "reject", "revise"].map((outcome) =>
    h("button", {
      class: `fnb-btn fnb-${outcome}`, text: outcome[0].toUpperCase() + outcome.slice(1),
      onclick: () => {
        for (const b of buttons) b.disabled = true;
        const msg = { type: "decision", outcome, feedback: feedback.value };
        const total = (model.get("payload")?.actions || []).length;
        if (outcome === "approve" && chosen && chosen.size < total) {
          msg.partial = { actions: [...chosen].sort((a, b) => a - b) };
        }
        model.send(msg);
      },
    }));
  const buttonRow = h("div", { class: "fnb-buttons" }, ...buttons);
  const statusEl = h("div", { class: "fnb-decision" });
  const errorEl = h("div", { class: "fnb-error" });
  root.append(titleEl, contextEl, outcomeEl, diffEl, body, feedback, buttonRow, statusEl, errorEl);

  const asked = (pending) => {
    const kind = model.get("kind");
    const payload = model.get("payload");
    const actions = payload?.actions;
    if (kind !== "plan" || !Array.isArray(actions)) return kvTable(payload ?? {});
    const partial = model.get("partial")?.actions;
    if (chosen === null) chosen = new Set(actions.map((_a, i) => i));
    const rows = actions.map((a, i) => {
      const box = h("input", { type: "checkbox", title: "untick to leave this action out" });
      box.checked = partial ? partial.includes(i) : chosen.has(i);
      box.disabled = !pending;
      const row = h("tr", { class: box.checked ? "fnb-action" : "fnb-action fnb-deselected" },
        h("td", {}, box, ` ${i + 1}`), h("td", {}, h("code", { text: a?.kind ?? "?" })),
        h("td", {}, kvTable(payloadOf(a))));
      box.addEventListener("change", () => {
        if (box.checked) chosen.add(i); else chosen.delete(i);
        row.classList.toggle("fnb-deselected", !box.checked);
        buttons[0].textContent = chosen.size < actions.length
          ? `Approve ${chosen.size} of ${actions.length}` : "Approve";
        buttons[0].disabled = chosen.size === 0 || model.get("status") !== "pending";
      });
      return row;
    });
    const { actions: _a, body: planBody, planId: _p, plan: _n, ...meta } = payload;
    if (planBody && typeof planBody === "object" && !Array.isArray(planBody)) {
      const { actions: _b, ...fields } = planBody;
      Object.assign(meta, fields);
    }
    return h("div", {},
      Object.keys(meta).length ? kvTable(meta) : null,
      h("table", { class: "fnb-actions" },
        h("tr", {}, h("th", { text: "#" }), h("th", { text: "kind" }), h("th", { text: "payload" })),
        ...rows));
  };

  const draw = () => {
    const status = model.get("status");
    const outcome = model.get("outcome");
    const decided = status === "decided";
    const payload = model.get("payload");
    const label = model.get("kind") === "plan" && payload?.planId ? payload.planId : model.get("target");
    const title = { "": "Approval needed", approve: "Approved", reject: "Rejected",
      revise: "Sent back for revision" }[outcome] ?? outcome;
    titleEl.replaceChildren(
      badge(title, decided ? toneOf(outcome) : "warn"), h("b", { text: model.get("kind") }),
      h("code", { text: label }),
      h("span", { class: "fnb-dim", text: model.get("agent") ? `from ${model.get("agent")}` : "" }));
    const ctx = model.get("context") || {};
    contextEl.replaceChildren(...[
      ctx.runId ? `run ${ctx.runId}` : null, ctx.threadId ? ` · thread ${ctx.threadId}` : null,
      ctx.prompt ? ` · prompt: “${oneLine(ctx.prompt, 120)}”` : null].filter(Boolean));
    const promise = model.get("promise");
    if (decided) {
      const result = model.get("result");
      outcomeEl.replaceChildren(
        `${title} by ${model.get("decided_by") || "someone"}`,
        result ? h("span", { class: "fnb-dim", text: ` → ${result}` }) : "");
    } else {
      outcomeEl.replaceChildren(`Approve → ${promise}`);
    }
    const changes = planDiff(model.get("previous"), payload);
    diffEl.replaceChildren(...(model.get("previous") && changes.length ? [
      h("div", { class: "fnb-label", text: "changed since the previous version" }),
      h("table", { class: "fnb-actions" }, ...changes.map(([what, a, b]) => h("tr", {},
        h("td", { text: what }), h("td", {}, h("span", { class: "fnb-diff-old", text: a })),
        h("td", {}, h("span", { class: "fnb-diff-new", text: b })))))] : []));
    body.replaceChildren(asked(status === "pending"));
    for (const b of buttons) b.disabled = status !== "pending";
    if (status === "pending" && chosen && chosen.size === 0) buttons[0].disabled = true;
    feedback.hidden = decided;
    buttonRow.hidden = decided;
    if (decided) {
      const fb = model.get("feedback");
      statusEl.textContent = `decision: ${outcome}${fb ? ` (${fb})` : ""}`;
      statusEl.dataset.outcome = outcome;
    } else {
      statusEl.textContent = status === "sending" ? "sending…" : "waiting for a decision";
    }
    errorEl.textContent = model.get("error");
  };
  draw();
  const names = ["status", "outcome", "feedback", "error", "payload", "previous", "partial",
    "decided_by", "result", "promise", "context"].map((n) => `change:${n}`);
  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => { pending = false; draw(); });
  };
  for (const name of names) model.on(name, schedule);
  return () => { for (const name of names) model.off(name, schedule); };
}

export default { render };
