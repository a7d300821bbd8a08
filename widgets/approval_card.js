// Approval card, outcome first: what approving does, what is asked (plan actions
// numbered from 1, each with a checkbox: untick to approve the others only, and an
// "Edit" button that opens its payload as JSON to change before approving), what
// changed since the previous version after a revise, the buttons; then the decision,
// who decided, what happened and which actions were edited (old -> new).

function payloadOf(action) {
  if (!action || typeof action !== "object") return action;
  if ("payload" in action) return action.payload;
  const { kind: _k, references: _r, ...rest } = action;
  return rest;
}

// JSON text with sorted keys, to compare two payloads however their keys are ordered.
function canon(value) {
  if (Array.isArray(value)) return `[${value.map(canon).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canon(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

// [what, before, after] rows for the fields that differ between two payloads.
function fieldChanges(label, before, after) {
  const a = before && typeof before === "object" ? before : {};
  const b = after && typeof after === "object" ? after : {};
  const rows = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const va = JSON.stringify(a[key]), vb = JSON.stringify(b[key]);
    if (canon(a[key]) !== canon(b[key])) rows.push([`${label} ${key}`, va ?? "—", vb ?? "—"]);
  }
  return rows;
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
    lines.push(...fieldChanges(`#${i + 1}`, payloadOf(a), payloadOf(b)));
  }
  return lines;
}

// A decision's partial as {indexes, edits: Map(index -> payload)}; null approves all as is.
function readPartial(partial) {
  const entries = partial?.actions;
  if (!Array.isArray(entries)) return null;
  const edits = new Map();
  const indexes = entries.map((e) => {
    if (e && typeof e === "object") { edits.set(e.index, e.payload); return e.index; }
    return e;
  });
  return { indexes, edits };
}

function changesTable(rows) {
  return h("table", { class: "fnb-actions" }, ...rows.map(([what, a, b]) => h("tr", {},
    h("td", { text: what }), h("td", {}, h("span", { class: "fnb-diff-old", text: a })),
    h("td", {}, h("span", { class: "fnb-diff-new", text: b })))));
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fnb-approval" });
  el.append(root);
  const titleEl = h("div", { class: "fnb-title" });
  const contextEl = h("div", { class: "fnb-context fnb-dim" });
  const outcomeEl = h("div", { class: "fnb-outcome" });
  const diffEl = h("div", { class: "fnb-diff" });
  const body = h("div", { class: "fnb-asked" });
  const editedEl = h("div", { class: "fnb-edited" });
  const feedback = h("textarea", { class: "fnb-feedback", rows: "2",
    placeholder: "feedback (optional; used by Revise and Reject)" });
  // Keys typed here are ours: JupyterLab's notebook shortcuts must not see them.
  feedback.addEventListener("keydown", (e) => e.stopPropagation());
  let chosen = null; // indexes of the ticked actions (plan approvals)
  const edits = new Map(); // index -> edited payload (differs from the plan's)
  const drafts = new Map(); // index -> {text, error} of an open payload editor
  const actionsOf = () => model.get("payload")?.actions || [];
  const buttons = ["approve", "reject", "revise"].map((outcome) =>
    h("button", {
      class: `fnb-btn fnb-${outcome}`, text: outcome[0].toUpperCase() + outcome.slice(1),
      onclick: () => {
        for (const b of buttons) b.disabled = true;
        const msg = { type: "decision", outcome, feedback: feedback.value };
        const total = actionsOf().length;
        const picked = chosen ? [...chosen].sort((a, b) => a - b) : [];
        const edited = picked.filter((i) => edits.has(i));
        if (outcome === "approve" && chosen && (chosen.size < total || edited.length)) {
          msg.partial = { actions: picked.map((i) =>
            (edits.has(i) ? { index: i, payload: edits.get(i) } : i)) };
        }
        model.send(msg);
      },
    }));
  const buttonRow = h("div", { class: "fnb-buttons" }, ...buttons);
  const statusEl = h("div", { class: "fnb-decision" });
  const errorEl = h("div", { class: "fnb-error" });
  root.append(titleEl, contextEl, outcomeEl, diffEl, body, editedEl, feedback, buttonRow,
    statusEl, errorEl);

  // The Approve button says what it sends; it is off while nothing is ticked or an
  // open editor holds text that is not a JSON object.
  const approveState = () => {
    const total = actionsOf().length;
    if (!chosen) return;
    const edited = [...chosen].filter((i) => edits.has(i)).length;
    const broken = [...drafts.values()].some((d) => d.error);
    let label = chosen.size < total ? `Approve ${chosen.size} of ${total}` : "Approve";
    if (edited) label += ` with ${edited} edit${edited === 1 ? "" : "s"}`;
    buttons[0].textContent = label;
    buttons[0].disabled = chosen.size === 0 || broken || model.get("status") !== "pending";
    if (model.get("status") !== "pending") return;
    const all = chosen.size === total && !edited;
    outcomeEl.replaceChildren(all ? `Approve → ${model.get("promise")}`
      : chosen.size === 0 ? "Tick at least one action to approve"
      : `Approve → ${dispatches([...chosen].sort((a, b) => a - b))}` +
        (edited ? `, ${edited} edited` : ""));
  };

  // What approving the ticked actions does, said like the kernel's promise
  // ("executor dispatches 2 actions (restock, retire)").
  const dispatches = (indices) => {
    const actions = actionsOf();
    const kinds = new Map();
    for (const i of indices) {
      const kind = String(actions[i]?.kind ?? "?");
      kinds.set(kind, (kinds.get(kind) || 0) + 1);
    }
    const who = model.get("agent") || "the agent";
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    if (kinds.size === 1) {
      const [[kind, n]] = [...kinds];
      return `${who} dispatches ${plural(n, `${kind} action`)}`;
    }
    const detail = [...kinds].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(", ");
    return `${who} dispatches ${plural(indices.length, "action")} (${detail})`;
  };

  const editor = (i, original, view, changed) => {
    const draft = drafts.get(i);
    const area = h("textarea", { class: "fnb-edit-json", rows: String(Math.min(12,
      draft.text.split("\n").length + 1)), spellcheck: "false",
      "aria-label": `payload of action ${i + 1} as JSON` });
    area.value = draft.text;
    area.addEventListener("keydown", (e) => e.stopPropagation());
    const problem = h("div", { class: "fnb-error fnb-edit-error", text: draft.error || "" });
    area.addEventListener("input", () => {
      draft.text = area.value;
      let value, error = "";
      try {
        value = JSON.parse(area.value);
        if (!value || typeof value !== "object" || Array.isArray(value)) {
          error = "the payload must be a JSON object ({\"field\": value, ...})";
        }
      } catch (err) {
        error = `invalid JSON: ${err.message}`;
      }
      draft.error = error;
      problem.textContent = error;
      area.classList.toggle("fnb-invalid", Boolean(error));
      if (!error) {
        if (canon(value) === canon(original)) edits.delete(i); else edits.set(i, value);
        view.replaceChildren(...shownPayload(i, original));
        changed();
      }
      approveState();
    });
    area.classList.toggle("fnb-invalid", Boolean(draft.error));
    return h("div", { class: "fnb-editor" }, area, problem);
  };

  const shownPayload = (i, original) => {
    if (!edits.has(i)) return [kvTable(original)];
    return [badge("edited", "info"), kvTable(edits.get(i))];
  };

  const asked = (pending) => {
    const kind = model.get("kind");
    const payload = model.get("payload");
    const actions = payload?.actions;
    if (kind !== "plan" || !Array.isArray(actions)) return kvTable(payload ?? {});
    const decided = pending ? null : readPartial(model.get("partial"));
    if (chosen === null) chosen = new Set(actions.map((_a, i) => i));
    const rows = actions.map((a, i) => {
      const original = payloadOf(a);
      const box = h("input", { type: "checkbox", title: "untick to leave this action out" });
      box.checked = decided ? decided.indexes.includes(i) : chosen.has(i);
      box.disabled = !pending;
      const view = h("div", { class: "fnb-payload-view" });
      const cell = h("td", { class: "fnb-payload" }, view);
      if (decided?.edits.has(i)) {
        view.append(badge("edited", "info"), kvTable(decided.edits.get(i)));
      } else if (pending) {
        view.append(...shownPayload(i, original));
      } else {
        view.append(kvTable(original));
      }
      const tools = h("td", { class: "fnb-row-tools" });
      const row = h("tr", { class: box.checked ? "fnb-action" : "fnb-action fnb-deselected" },
        h("td", {}, box, ` ${i + 1}`), h("td", {}, h("code", { text: a?.kind ?? "?" })),
        cell, tools);
      if (pending) {
        const open = drafts.has(i);
        const edit = h("button", { class: "fnb-link fnb-edit", type: "button",
          text: open ? "done" : "Edit", title: "change this action's payload before approving" });
        edit.addEventListener("click", () => {
          if (drafts.has(i)) {
            if (!drafts.get(i).error) drafts.delete(i); // a broken draft stays open
          } else {
            drafts.set(i, { text: JSON.stringify(edits.get(i) ?? original, null, 2), error: "" });
          }
          draw();
        });
        const revert = h("button", { class: "fnb-link fnb-revert", type: "button", text: "revert",
          title: "back to the plan's payload", onclick: () => { edits.delete(i); drafts.delete(i); draw(); } });
        revert.hidden = !edits.has(i);
        tools.append(edit, revert);
        if (open) cell.append(editor(i, original, view, () => { revert.hidden = !edits.has(i); }));
      }
      box.addEventListener("change", () => {
        if (box.checked) chosen.add(i); else chosen.delete(i);
        row.classList.toggle("fnb-deselected", !box.checked);
        approveState();
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
        h("tr", {}, h("th", { text: "#" }), h("th", { text: "kind" }), h("th", { text: "payload" }),
          h("th", {})),
        ...rows));
  };

  // After the decision: which actions were edited, field by field (old -> new).
  const editedSummary = () => {
    const decided = model.get("outcome") === "approve" ? readPartial(model.get("partial")) : null;
    if (!decided || !decided.edits.size) return [];
    const actions = actionsOf();
    const rows = [...decided.edits].sort(([a], [b]) => a - b).flatMap(([i, after]) =>
      fieldChanges(`#${i + 1}`, payloadOf(actions[i]), after));
    const n = decided.edits.size;
    return [h("div", { class: "fnb-label",
      text: `${n} action${n === 1 ? "" : "s"} edited before approving` }), changesTable(rows)];
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
      changesTable(changes)] : []));
    body.replaceChildren(asked(status === "pending"));
    editedEl.replaceChildren(...(decided ? editedSummary() : []));
    for (const b of buttons) b.disabled = status !== "pending";
    if (status === "pending") approveState();
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
