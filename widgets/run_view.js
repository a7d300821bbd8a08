// Run view: a pinned header (status and outcome, elapsed time, tokens and cost, Stop),
// streaming text, collapsible reasoning, tool calls with their timing, nested sub-agents
// with their own timing and tokens, and the final text rendered as markdown.
// Events arrive as batches {type: "batch", seq, events}; a gap in seq (or a late
// render) asks the kernel for a snapshot {type: "snapshot", seq, events}. The header's
// outcome ("plan rejected", "3 actions dispatched") comes from the kernel's fold
// (trait `outcome`), so every surface says the same thing.

const TERMINAL = ["completed", "failed", "cancelled"];
const EPOCH_MS = 1e12; // numbers above this in keys ending in "At" are epoch-ms timestamps

function readable(value) {
  // JSON with epoch-ms timestamps shown as ISO times (createdAt, startedAt, ...).
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, (key, v) =>
      (/At$/.test(key) && typeof v === "number" && v > EPOCH_MS ? new Date(v).toISOString() : v),
    2) ?? String(value);
  } catch (_err) {
    return String(value);
  }
}

function isReference(value) {
  return value && typeof value === "object" && !Array.isArray(value) &&
    typeof value.kind === "string" && typeof value.id === "string" && "glimpse" in value;
}

function isTable(value) {
  return value && typeof value === "object" && Array.isArray(value.columns) && Array.isArray(value.rows);
}

function miniGrid(columns, rows, limit = 5) {
  return h("table", { class: "fnb-actions fnb-mini-grid" },
    h("tr", {}, ...columns.map((c) => h("th", { text: String(c) }))),
    ...rows.slice(0, limit).map((r) => h("tr", {}, ...r.map((v) =>
      h("td", { text: v === null ? "null" : typeof v === "string" ? v : JSON.stringify(v) })))));
}

class RunRenderer {
  constructor(root, { onStop, onOpen }) {
    // The header is built once and survives reset(): a snapshot re-render must never
    // swap the Stop button out under a click.
    this.root = root;
    this.onOpen = onOpen;
    this.statusEl = h("span", { class: "fnb-status" });
    this.outcomeEl = h("span", { class: "fnb-outcome-text" });
    this.agentEl = h("span", { class: "fnb-agent fnb-dim" });
    this.elapsedEl = h("span", { class: "fnb-elapsed fnb-dim", title: "elapsed time" });
    this.usageEl = h("span", { class: "fnb-usage" });
    this.copyBtn = copyButton(() => this.finalText(), "copy text");
    this.stopBtn = h("button", {
      class: "fnb-btn fnb-stop", text: "Stop", title: "cancel this run",
      onclick: () => {
        this.stopBtn.disabled = true;
        this.stopBtn.textContent = "Stopping…";
        onStop();
      },
    });
    this.head = h("div", { class: "fnb-run-head" }, this.statusEl, this.outcomeEl, this.agentEl,
      this.elapsedEl, this.usageEl, this.copyBtn, this.stopBtn);
    this.outcome = "";
    this.timer = null;
    this.reset();
  }

  reset() {
    this.promptEl = h("div", { class: "fnb-prompt" });
    this.body = h("div", { class: "fnb-section fnb-root" });
    this.errors = h("div", { class: "fnb-errors" });
    this.root.replaceChildren(this.head, this.promptEl, this.body, this.errors);
    this.agentEl.textContent = "";
    this.sections = new Map([["", { el: this.body, last: null }]]);
    this.agents = new Map();
    this.tools = new Map();
    this.usage = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    this.usageEl.textContent = "";
    this.pending = 0;
    this.t0 = null;
    this.tLast = null;
    this.text = null;
    this.setStatus("starting");
  }

  finalText() {
    if (this.text !== null && this.text !== "") return this.text;
    return [...this.body.querySelectorAll(":scope > .fnb-text")].map((e) => e.textContent).join("");
  }

  setOutcome(outcome) {
    this.outcome = outcome || "";
    this.outcomeEl.textContent = this.outcome ? `· ${this.outcome}` : "";
    this.setStatus(this.status);
  }

  setStatus(status) {
    this.status = status;
    const done = TERMINAL.includes(status);
    const shown = !done && this.pending > 0 ? "waiting for approval" : status;
    // A completed run whose plan was rejected (or failed) is not a green success.
    const tone = done && /rejected|failed|cancelled/.test(this.outcome) ? "warn" : toneOf(shown);
    this.statusEl.replaceChildren(badge(shown, tone));
    this.stopBtn.hidden = done;
    this.copyBtn.hidden = !done;
    if (done) this.stopTimer();
    this.tick();
  }

  startTimer() {
    if (this.timer === null && !TERMINAL.includes(this.status)) {
      this.timer = setInterval(() => this.tick(), 1000);
    }
  }

  stopTimer() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  tick() {
    if (this.t0 === null) { this.elapsedEl.textContent = ""; return; }
    const end = TERMINAL.includes(this.status) || this.live === false ? this.tLast : Date.now();
    this.elapsedEl.textContent = fmtMs(Math.max(0, (end ?? this.t0) - this.t0));
  }

  setUsage(usage, replace) {
    if (replace) this.usage = { inputTokens: 0, outputTokens: 0, costUsd: 0 };
    for (const key of ["inputTokens", "outputTokens", "costUsd"]) this.usage[key] += usage?.[key] || 0;
    this.usageEl.textContent = fmtUsage(this.usage);
  }

  section(ev) {
    const key = ev.parentId || "";
    let sec = this.sections.get(key);
    if (!sec) {
      const el = h("div", { class: "fnb-section fnb-sub" });
      const tool = this.tools.get(key);
      (tool ? tool.children : this.body).append(el);
      if (tool) tool.el.open = true;
      sec = { el, last: null };
      this.sections.set(key, sec);
    }
    return sec;
  }

  appendDelta(ev, kind) {
    const sec = this.section(ev);
    if (!sec.last || sec.last.kind !== kind || sec.last.agent !== ev.agent) {
      let el, box;
      if (kind === "reasoning") {
        el = h("div", { class: "fnb-reasoning-body" });
        const label = h("span", { text: "reasoning" });
        box = h("details", { class: "fnb-reasoning" }, h("summary", {}, label), el);
        box.label = label;
      } else {
        el = box = h("div", { class: "fnb-text" });
      }
      sec.el.append(box);
      sec.last = { kind, agent: ev.agent, el, box };
    }
    sec.last.el.append(ev.delta || "");
    if (kind === "reasoning") {
      sec.last.box.label.textContent = `reasoning · ${sec.last.el.textContent.length.toLocaleString("en-US")} chars`;
    }
  }

  note(ev, text, cls = "fnb-note") {
    const sec = this.section(ev);
    sec.el.append(h("div", { class: cls, text }));
    sec.last = null;
  }

  resultView(tool, ev, failed) {
    const value = failed ? ev.error : ev.result;
    const parts = [h("div", { class: "fnb-label" }, failed ? "error" : "result",
      copyButton(() => readable(value)))];
    const ref = !failed && isReference(value) ? value : null;
    const glimpse = ref ? ref.glimpse : ev.glimpse;
    if (ref) {
      const g = ref.glimpse || {};
      const size = typeof g.rowCount === "number"
        ? `${g.rowCount.toLocaleString("en-US")} rows × ${(g.columns || []).length} columns` : "";
      parts.push(h("div", { class: "fnb-ref" }, h("code", { text: ref.kind }), " ",
        h("span", { class: "fnb-dim", text: [size, ref.createdAt ? `created ${new Date(ref.createdAt).toLocaleTimeString()}` : ""].filter(Boolean).join(" · ") }),
        h("button", { class: "fnb-link fnb-open-grid", type: "button", text: "open in grid",
          onclick: () => this.onOpen(ev.callId) })));
    } else if (!failed && isTable(value) && value.rows.length > 5) {
      parts.push(h("div", {}, h("span", { class: "fnb-dim", text: `${value.rows.length.toLocaleString("en-US")} rows` }),
        h("button", { class: "fnb-link fnb-open-grid", type: "button", text: "open in grid",
          onclick: () => this.onOpen(ev.callId) })), miniGrid(value.columns, value.rows));
    } else {
      parts.push(collapsible(h("pre", { class: "fnb-pre", text: readable(value) })));
    }
    if (glimpse && isTable(glimpse)) parts.push(miniGrid(glimpse.columns, glimpse.rows));
    tool.resultEl.replaceChildren(...parts);
  }

  apply(ev) {
    if (typeof ev.ts === "number") {
      if (this.t0 === null) this.t0 = ev.ts;
      this.tLast = ev.ts;
    }
    switch (ev.type) {
      case "run-start":
        this.promptEl.textContent = ev.prompt || "";
        this.agentEl.textContent = ev.entryAgent || ev.agent || "";
        this.setStatus("running");
        break;
      case "agent-start": {
        const sec = this.section(ev);
        if (ev.parentId) {
          const step = h("span", { class: "fnb-step" });
          sec.el.prepend(h("div", { class: "fnb-agent-title" },
            h("span", { text: `${ev.agent} (${ev.role || "agent"})` }), step));
          this.agents.set(ev.parentId, { step, t0: ev.ts });
        }
        break;
      }
      case "agent-finish": {
        const agent = this.agents.get(ev.parentId || "");
        if (agent) {
          agent.step.textContent = [fmtMs(ev.ts - agent.t0), fmtUsage(ev.usage)].filter(Boolean).join(" · ");
        }
        break;
      }
      case "text-delta":
        this.appendDelta(ev, "text");
        break;
      case "reasoning-delta":
        this.appendDelta(ev, "reasoning");
        break;
      case "tool-call": {
        const sec = this.section(ev);
        const stateEl = h("span", { class: "fnb-tool-state", text: "running…" });
        const timeEl = h("span", { class: "fnb-step" });
        const resultEl = h("div", { class: "fnb-tool-result" });
        const children = h("div", { class: "fnb-tool-children" });
        const el = h("details", { class: "fnb-tool fnb-tool-running", "data-call": ev.callId },
          h("summary", {}, h("code", { text: ev.tool }), " ",
            h("span", { class: "fnb-tool-args-short", text: oneLine(ev.args) }), " ", stateEl, " ", timeEl),
          h("div", { class: "fnb-label", text: "arguments" }), collapsible(kvTable(ev.args)), children, resultEl);
        sec.el.append(el);
        sec.last = null;
        this.tools.set(ev.callId, { el, stateEl, timeEl, resultEl, children, t0: ev.ts, done: false });
        break;
      }
      case "tool-result": {
        const tool = this.tools.get(ev.callId);
        if (!tool) break;
        const failed = ev.error !== undefined && ev.error !== null;
        const cancelled = failed && /cancel/i.test(readable(ev.error));
        const state = cancelled ? "cancelled" : failed ? "error" : "done";
        tool.done = true;
        tool.stateEl.textContent = state;
        tool.el.classList.remove("fnb-tool-running");
        tool.el.classList.toggle("fnb-tool-error", failed && !cancelled);
        tool.el.classList.toggle("fnb-tool-cancelled", cancelled);
        if (typeof ev.ts === "number" && typeof tool.t0 === "number") tool.timeEl.textContent = fmtMs(ev.ts - tool.t0);
        this.resultView(tool, ev, failed);
        break;
      }
      case "plan-stored":
        const n = (ev.actions || []).length;
        this.note(ev, `plan ${ev.plan} stored as ${ev.planId} (${ev.status}, ${n} action${n === 1 ? "" : "s"})`);
        break;
      case "plan-status":
        this.note(ev, `plan ${ev.planId} → ${String(ev.status).replace(/_/g, " ")}`);
        break;
      case "approval-required":
        this.pending += 1;
        this.note(ev, `waiting for approval: ${ev.kind} ${ev.target}`, "fnb-note fnb-wait");
        this.setStatus(this.status);
        break;
      case "approval-decision":
        this.pending = Math.max(0, this.pending - 1);
        this.note(ev, `approval: ${ev.outcome}${ev.feedback ? ` — ${ev.feedback}` : ""}`);
        this.setStatus(this.status);
        break;
      case "usage":
        this.setUsage(ev, false);
        break;
      case "error":
        this.errors.append(h("div", { class: "fnb-error", text: `${ev.where ? ev.where + ": " : ""}${ev.message}` }));
        break;
      case "run-finish": {
        if (ev.usage) this.setUsage(ev.usage, true);
        this.pending = 0;
        this.text = typeof ev.text === "string" ? ev.text : null;
        for (const tool of this.tools.values()) {
          if (!tool.done) {  // a call the run never finished (Stop, failure)
            tool.stateEl.textContent = ev.status === "cancelled" ? "cancelled" : "not finished";
            tool.el.classList.remove("fnb-tool-running");
            tool.el.classList.add(ev.status === "cancelled" ? "fnb-tool-cancelled" : "fnb-tool-error");
          }
        }
        this.renderFinalText();
        this.setStatus(ev.status || "completed");
        break;
      }
      default:
        break;
    }
  }

  renderFinalText() {
    // The entry agent's last streamed block (its answer) becomes markdown once the run
    // is over; earlier blocks (said before a tool call) stay as they streamed.
    const blocks = [...this.body.querySelectorAll(":scope > .fnb-text")];
    const last = blocks[blocks.length - 1];
    const text = last ? last.textContent : this.text;
    if (!text) return;
    const md = collapsible(markdown(text), { lines: 30, chars: 3000 });
    md.classList.add("fnb-final");
    if (last) last.replaceWith(md); else this.body.append(md);
    this.sections.get("").last = null;
  }
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fnb-run" });
  el.append(root);
  const view = new RunRenderer(root, {
    onStop: () => model.send({ type: "cancel" }),
    onOpen: (callId) => model.send({ type: "open-result", callId }),
  });
  const errorEl = h("div", { class: "fnb-error fnb-consumer-error" });
  root.after(errorEl);
  let lastSeq = null; // null: waiting for a snapshot

  const showAll = (events, seq) => {
    view.reset();
    for (const ev of events) view.apply(ev);
    lastSeq = seq;
  };
  const fromTraits = () => {
    if (TERMINAL.includes(model.get("status")) && model.get("events").length > 0) {
      view.live = false;
      showAll(model.get("events"), model.get("seq"));
      view.setStatus(model.get("status"));
      return true;
    }
    return false;
  };
  const onMsg = (msg) => {
    if (msg?.type === "snapshot") {
      // Every view of the model receives the snapshot one of them asked for;
      // a view that is already up to date keeps its DOM.
      if (lastSeq === null || msg.seq > lastSeq) showAll(msg.events, msg.seq);
    } else if (msg?.type === "batch" && lastSeq !== null) {
      if (msg.seq <= lastSeq) return;
      if (msg.seq !== lastSeq + 1) {
        lastSeq = null;
        model.send({ type: "sync" });
        return;
      }
      for (const ev of msg.events) view.apply(ev);
      lastSeq = msg.seq;
    }
    view.startTimer();
  };
  const onStatus = () => {
    if (lastSeq === null) fromTraits();
    else if (TERMINAL.includes(model.get("status"))) view.setStatus(model.get("status"));
  };
  const onError = () => { errorEl.textContent = model.get("error"); };
  const onOutcome = () => view.setOutcome(model.get("outcome"));
  model.on("msg:custom", onMsg);
  model.on("change:status", onStatus);
  model.on("change:error", onError);
  model.on("change:outcome", onOutcome);
  onError();
  onOutcome();
  if (!fromTraits()) model.send({ type: "sync" });
  return () => {
    view.stopTimer();
    model.off("msg:custom", onMsg);
    model.off("change:status", onStatus);
    model.off("change:error", onError);
    model.off("change:outcome", onOutcome);
  };
}

export default { render };
