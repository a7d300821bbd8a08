// Run view: streaming text, tool calls (collapsible), nested sub-agents, usage, status.
// Events arrive as batches {type: "batch", seq, events}; a gap in seq (or a late
// render) asks the kernel for a snapshot {type: "snapshot", seq, events}.

const TERMINAL = ["completed", "failed", "cancelled"];

class RunRenderer {
  constructor(root, onStop) {
    // The header (status, usage, Stop) is built once and survives reset(): a
    // snapshot re-render must never swap the Stop button out under a click.
    this.root = root;
    this.statusEl = h("span", { class: "fa-status" });
    this.agentEl = h("span", { class: "fa-agent" });
    this.usageEl = h("span", { class: "fa-usage" });
    this.stopBtn = h("button", {
      class: "fa-stop", text: "Stop", title: "cancel this run",
      onclick: () => {
        this.stopBtn.disabled = true;
        this.stopBtn.textContent = "Stopping…";
        onStop();
      },
    });
    this.head = h("div", { class: "fa-run-head" },
      this.statusEl, this.agentEl, this.usageEl, this.stopBtn);
    this.reset();
  }

  reset() {
    this.promptEl = h("div", { class: "fa-prompt" });
    this.body = h("div", { class: "fa-section fa-root" });
    this.errors = h("div", { class: "fa-errors" });
    this.root.replaceChildren(this.head, this.promptEl, this.body, this.errors);
    this.agentEl.textContent = "";
    this.sections = new Map([["", { el: this.body, last: null }]]);
    this.tools = new Map();
    this.usage = { inputTokens: 0, outputTokens: 0 };
    this.usageEl.textContent = "";
    this.pending = 0;
    this.setStatus("starting");
  }

  setStatus(status) {
    this.status = status;
    const shown = !TERMINAL.includes(status) && this.pending > 0 ? "waiting for approval" : status;
    this.statusEl.replaceChildren(badge(shown));
    this.stopBtn.hidden = TERMINAL.includes(status);
  }

  setUsage(usage, replace) {
    if (replace) this.usage = { inputTokens: 0, outputTokens: 0 };
    for (const key of ["inputTokens", "outputTokens"]) this.usage[key] += usage?.[key] || 0;
    const cost = usage?.costUsd != null ? ` · $${Number(usage.costUsd).toFixed(4)}` : "";
    this.usageEl.textContent =
      `${this.usage.inputTokens} in / ${this.usage.outputTokens} out tokens${cost}`;
  }

  section(ev) {
    const key = ev.parentId || "";
    let sec = this.sections.get(key);
    if (!sec) {
      const el = h("div", { class: "fa-section fa-sub" });
      const tool = this.tools.get(key);
      (tool ? tool.children : this.body).append(el);
      if (tool) tool.el.open = true;
      sec = { el, last: null };
      this.sections.set(key, sec);
    }
    return sec;
  }

  appendDelta(ev, cls) {
    const sec = this.section(ev);
    if (!sec.last || sec.last.cls !== cls || sec.last.agent !== ev.agent) {
      const el = h("div", { class: cls });
      sec.el.append(el);
      sec.last = { cls, agent: ev.agent, el };
    }
    sec.last.el.append(ev.delta || "");
  }

  note(ev, text, cls = "fa-note") {
    const sec = this.section(ev);
    sec.el.append(h("div", { class: cls, text }));
    sec.last = null;
  }

  apply(ev) {
    switch (ev.type) {
      case "run-start":
        this.promptEl.textContent = ev.prompt || "";
        this.agentEl.textContent = ev.entryAgent || ev.agent || "";
        this.setStatus("running");
        break;
      case "agent-start": {
        const sec = this.section(ev);
        if (ev.parentId) {
          sec.el.prepend(h("div", { class: "fa-agent-title", text: `${ev.agent} (${ev.role || "agent"})` }));
        }
        break;
      }
      case "text-delta":
        this.appendDelta(ev, "fa-text");
        break;
      case "reasoning-delta":
        this.appendDelta(ev, "fa-reasoning");
        break;
      case "tool-call": {
        const sec = this.section(ev);
        const stateEl = h("span", { class: "fa-tool-state", text: "running…" });
        const resultEl = h("div", { class: "fa-tool-result" });
        const children = h("div", { class: "fa-tool-children" });
        const el = h("details", { class: "fa-tool" },
          h("summary", {}, h("code", { text: ev.tool }), " ",
            h("span", { class: "fa-tool-args-short", text: oneLine(ev.args) }), " ", stateEl),
          h("div", { class: "fa-label", text: "arguments" }), kvTable(ev.args), children, resultEl);
        sec.el.append(el);
        sec.last = null;
        this.tools.set(ev.callId, { el, stateEl, resultEl, children });
        break;
      }
      case "tool-result": {
        const tool = this.tools.get(ev.callId);
        if (!tool) break;
        const failed = ev.error !== undefined && ev.error !== null;
        tool.stateEl.textContent = failed ? "error" : "done";
        tool.el.classList.toggle("fa-tool-error", failed);
        tool.resultEl.replaceChildren(
          h("div", { class: "fa-label", text: failed ? "error" : "result" }),
          h("pre", { class: "fa-pre", text: asText(failed ? ev.error : ev.result) }));
        if (ev.glimpse !== undefined) {
          tool.resultEl.append(h("div", { class: "fa-label", text: "glimpse" }),
            h("pre", { class: "fa-pre", text: asText(ev.glimpse) }));
        }
        break;
      }
      case "plan-stored":
        this.note(ev, `plan ${ev.plan} stored (${ev.status}, ${(ev.actions || []).length} actions)`);
        break;
      case "plan-status":
        this.note(ev, `plan → ${ev.status}`);
        break;
      case "approval-required":
        this.pending += 1;
        this.note(ev, `waiting for approval: ${ev.kind} ${ev.target}`, "fa-note fa-wait");
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
        this.errors.append(h("div", { class: "fa-error", text: `${ev.where ? ev.where + ": " : ""}${ev.message}` }));
        break;
      case "run-finish":
        if (ev.usage) this.setUsage(ev.usage, true);
        this.pending = 0;
        this.setStatus(ev.status || "completed");
        break;
      default:
        break;
    }
  }
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fa-run" });
  el.append(root);
  const view = new RunRenderer(root, () => model.send({ type: "cancel" }));
  const errorEl = h("div", { class: "fa-error fa-consumer-error" });
  root.after(errorEl);
  let lastSeq = null; // null: waiting for a snapshot

  const showAll = (events, seq) => {
    view.reset();
    for (const ev of events) view.apply(ev);
    lastSeq = seq;
  };
  const fromTraits = () => {
    if (TERMINAL.includes(model.get("status")) && model.get("events").length > 0) {
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
  };
  const onStatus = () => {
    if (lastSeq === null) fromTraits();
    else if (TERMINAL.includes(model.get("status"))) view.setStatus(model.get("status"));
  };
  const onError = () => { errorEl.textContent = model.get("error"); };
  model.on("msg:custom", onMsg);
  model.on("change:status", onStatus);
  model.on("change:error", onError);
  onError();
  if (!fromTraits()) model.send({ type: "sync" });
  return () => {
    model.off("msg:custom", onMsg);
    model.off("change:status", onStatus);
    model.off("change:error", onError);
  };
}

export default { render };
