// flowai_nb Studio: one page over the JSON API. The run view, approval card, trace
// viewer, eval view and data view are the notebook widgets' own front ends, driven
// through Model (an anywidget-like model) instead of a kernel comm.
import runView from "../widgets/run_view.js";
import approvalCard from "../widgets/approval_card.js";
import traceViewer from "../widgets/trace_viewer.js";
import evalView from "../widgets/eval_view.js";
import dataView from "../widgets/data_view.js";
import { diffPlans, stepRows } from "./studio_lib.js";

const $ = (id) => document.getElementById(id);
const TERMINAL = ["completed", "failed", "cancelled"];

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

// -- an anywidget-like model --------------------------------------------------------------
class Model {
  constructor(traits, onSend) {
    this.traits = { ...traits };
    this.listeners = new Map();
    this.onSend = onSend || (() => {});
  }
  get(name) { return this.traits[name]; }
  set(name, value) { this.traits[name] = value; this.emit(`change:${name}`); }
  update(values) { for (const [k, v] of Object.entries(values)) this.set(k, v); }
  save_changes() {}
  on(name, cb) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(cb);
  }
  off(name, cb) { this.listeners.get(name)?.delete(cb); }
  emit(name, ...args) { for (const cb of [...(this.listeners.get(name) || [])]) cb(...args); }
  send(msg) { this.onSend(msg); }
  message(msg) { this.emit("msg:custom", msg, []); }
}

// Rows and list items the widgets make clickable get a tab stop, and Enter or Space
// clicks them, so every view is usable from the keyboard.
const CLICKABLE = ".fnb-clickable, .fnb-table-list li";

function keyboardReachable(host) {
  const mark = () => {
    for (const node of host.querySelectorAll(`${CLICKABLE}:not([tabindex])`)) {
      node.tabIndex = 0;
      node.setAttribute("role", "button");
    }
  };
  host.addEventListener("keydown", (e) => {
    const target = e.target.closest?.(CLICKABLE);
    if (target && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      target.click();
    }
  });
  new MutationObserver(mark).observe(host, { childList: true, subtree: true });
  mark();
}

function mount(widget, model, container) {
  const host = el("div", { class: "st-widget" });
  container.append(host);
  widget.render({ model, el: host });
  keyboardReachable(host);
  return host;
}

// -- API -----------------------------------------------------------------------------------
function xsrf() {
  const m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : null;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const token = xsrf();
  if (token && method !== "GET") headers["X-XSRFToken"] = token;
  const res = await fetch(`api/${path}`, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_err) { data = null; }
  if (res.status === 401) showLogin();
  if (!res.ok) throw new ApiError(res.status, data?.error || `${res.status} ${res.statusText}`);
  return data;
}

function showLogin() {
  $("st-login").hidden = false;
  $("st-main").hidden = true;
}

// Server-Sent Events with resume: EventSource sends Last-Event-ID itself on reconnect.
function follow(path, onBatch, onEnd) {
  const source = new EventSource(`api/${path}`, { withCredentials: true });
  source.addEventListener("events", (msg) => onBatch(JSON.parse(msg.data)));
  source.addEventListener("end", () => { source.close(); onEnd?.(); });
  return source;
}

const state = {
  app: null, workspace: null, info: null, thread: null, tab: "chat",
  runs: new Map(), // runId -> RunPanel
  sources: new Set(),
};

function ws(path = "") {
  return `workspaces/${encodeURIComponent(state.workspace)}${path}`;
}

function closeStreams() {
  for (const s of state.sources) s.close();
  state.sources.clear();
}

// -- chat: one panel per run (run view + approval cards) -------------------------------
class RunPanel {
  constructor(runId, container) {
    this.runId = runId;
    this.events = [];
    this.batch = 0;
    this.cards = new Map();
    this.root = el("article", { class: "st-run", "data-run": runId });
    container.append(this.root);
    this.model = new Model({ status: "starting", events: [], seq: 0, error: "" }, (msg) => {
      if (msg.type === "sync") {
        this.model.message({ type: "snapshot", seq: this.batch, events: this.events });
      } else if (msg.type === "cancel") {
        api(ws(`/runs/${encodeURIComponent(runId)}/cancel`), { method: "POST" })
          .catch((err) => this.model.set("error", err.message));
      }
    });
    mount(runView, this.model, this.root);
    this.cardBox = el("div", { class: "st-cards" });
    this.root.append(this.cardBox);
    const source = follow(ws(`/runs/${encodeURIComponent(runId)}/events`),
      (events) => this.apply(events), () => state.sources.delete(source));
    source.onerror = () => {
      if (TERMINAL.includes(this.model.get("status"))) source.close();
    };
    state.sources.add(source);
  }

  apply(events) {
    const fresh = events.filter((e) => !(e.seq <= (this.events.at(-1)?.seq ?? -1)));
    if (!fresh.length) return;
    this.events.push(...fresh);
    this.batch += 1;
    this.model.message({ type: "batch", seq: this.batch, events: fresh });
    for (const e of fresh) {
      if (e.type === "approval-required") this.card(e);
      if (e.type === "approval-decision") this.cards.get(e.approvalId)?.decided(e);
      if (e.type === "run-finish") {
        this.model.set("status", e.status);
        refreshLists();
      }
    }
    this.model.set("events", this.events);
    this.model.set("seq", this.batch);
  }

  card(ev) {
    if (this.cards.has(ev.approvalId)) return;
    const card = new ApprovalCard(ev, this.cardBox);
    this.cards.set(ev.approvalId, card);
    card.root.scrollIntoView({ block: "nearest" });
  }
}

class ApprovalCard {
  constructor(ev, container) {
    this.ev = ev;
    this.root = el("div", { class: "st-card", "data-approval": ev.approvalId });
    container.append(this.root);
    this.model = new Model({
      approval_id: ev.approvalId, kind: ev.kind, target: ev.target, agent: ev.agent,
      payload: ev.payload, previous: null, promise: promise(ev),
      context: { runId: ev.runId, threadId: ev.threadId }, status: "pending", outcome: "",
      feedback: "", partial: null, decided_by: "", result: "", error: "",
    }, (msg) => this.decide(msg));
    this.diffBox = el("div", { class: "st-diff-box" });
    this.root.append(this.diffBox);
    mount(approvalCard, this.model, this.root);
    const feedback = this.root.querySelector("textarea");
    if (feedback) {
      feedback.setAttribute("aria-label", "Feedback");
      feedback.id = `fb-${ev.approvalId}`;
    }
    this.showDiff();
  }

  async decide(msg) {
    if (msg.type !== "decision") return;
    this.model.update({ status: "sending", error: "" });
    try {
      await api(ws(`/approvals/${encodeURIComponent(this.ev.approvalId)}`), {
        method: "POST",
        body: { outcome: msg.outcome, feedback: msg.feedback || null, partial: msg.partial ?? null },
      });
      this.model.update({ status: "decided", outcome: msg.outcome, feedback: msg.feedback || "",
        partial: msg.partial ?? null, decided_by: "you" });
      this.root.classList.add("st-decided");
    } catch (err) {
      this.model.update({ status: err.status === 409 ? "decided" : "pending", error: err.message });
    }
    refreshPending();
  }

  decided(e) {
    if (this.model.get("status") !== "decided") this.model.set("decided_by", "someone else");
    this.model.update({ status: "decided", outcome: e.outcome, feedback: e.feedback || "",
      partial: e.partial ?? null });
    this.root.classList.add("st-decided");
  }

  async showDiff() {
    const m = /^(.*)@v(\d+)$/.exec(this.ev.target || "");
    if (this.ev.kind !== "plan" || !m || Number(m[2]) < 2) return;
    const [base, version] = [m[1], Number(m[2])];
    const plan = (v) => api(ws(`/plans/${encodeURIComponent(`${base}@v${v}`)}`
      + `?threadId=${encodeURIComponent(this.ev.threadId || "")}`));  // versions are per thread
    try {
      const [before, after] = await Promise.all([plan(version - 1), plan(version)]);
      this.diffBox.replaceChildren(renderDiff(before, after));
    } catch (err) {
      this.diffBox.replaceChildren(el("div", { class: "st-error", text: `no diff: ${err.message}` }));
    }
  }
}

// What approving does, said first (as the notebook card says it).
function promise(ev) {
  const who = ev.agent || "the agent";
  if (ev.kind !== "plan") return `${who} runs tool ${ev.target}`;
  const actions = ev.payload?.actions || [];
  const kinds = [...new Set(actions.map((a) => a.kind))];
  const n = actions.length;
  const what = kinds.length === 1 ? `${kinds[0]} action` : "action";
  return `${who} dispatches ${n} ${what}${n === 1 ? "" : "s"}`;
}

function renderDiff(before, after) {
  const diff = diffPlans(before, after);
  const rows = diff.rows.map((r) => el("tr", { class: `st-diff-${r.change}` },
    el("td", { text: r.where }),
    el("td", {}, el("del", { text: r.before ?? "" })),
    el("td", {}, el("ins", { text: r.after ?? "" }))));
  return el("div", { class: "st-diff", role: "group", "aria-label": "Plan changes" },
    el("div", { class: "st-diff-title", text: `Changes from v${before.version} to v${after.version}` }),
    rows.length
      ? el("table", {}, el("tr", {}, el("th", { text: "what" }), el("th", { text: `v${before.version}` }),
        el("th", { text: `v${after.version}` })), ...rows)
      : el("div", { class: "st-dim", text: "no changes" }));
}

async function openThread(threadId) {
  closeStreams();
  state.thread = threadId;
  state.runs.clear();
  $("st-runs").replaceChildren();
  $("st-thread-title").textContent = threadId ? `Thread ${threadId}` : "New thread";
  markThreads();
  if (!threadId) return;
  const { runs } = await api(ws(`/runs?threadId=${encodeURIComponent(threadId)}`));
  for (const run of [...runs].reverse()) addRun(run.runId);
}

function addRun(runId) {
  if (!state.runs.has(runId)) state.runs.set(runId, new RunPanel(runId, $("st-runs")));
}

async function startRun(event) {
  event.preventDefault();
  if ($("st-run").disabled) return; // not ready yet, or a run is being started
  const prompt = $("st-prompt").value.trim();
  $("st-chat-error").textContent = "";
  if (!prompt) { $("st-chat-error").textContent = "Type a prompt first."; return; }
  $("st-run").disabled = true;
  try {
    const { runId, threadId } = await api(ws("/runs"), {
      method: "POST", body: { prompt, threadId: state.thread },
    });
    if (state.thread !== threadId) {
      closeStreams();
      state.runs.clear();
      $("st-runs").replaceChildren();
      state.thread = threadId;
      $("st-thread-title").textContent = `Thread ${threadId}`;
    }
    addRun(runId);
    $("st-prompt").value = "";
    refreshLists();
  } catch (err) {
    $("st-chat-error").textContent = err.message;
  } finally {
    $("st-run").disabled = false;
  }
}

function markThreads() {
  for (const b of document.querySelectorAll("#st-threads button")) {
    b.setAttribute("aria-current", b.dataset.thread === state.thread ? "true" : "false");
  }
}

function when(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "";
}

async function refreshThreads() {
  const { threads } = await api(ws("/threads"));
  $("st-threads").replaceChildren(...threads.map((t) => el("li", {},
    el("button", { class: "st-item", "data-thread": t.threadId, onclick: () => openThread(t.threadId) },
      el("span", { class: "st-item-title", text: t.lastPrompt || t.threadId }),
      el("span", { class: `st-pill st-${t.status}`, text: t.status || "" }),
      el("span", { class: "st-dim", text: ` ${t.runs} run${t.runs === 1 ? "" : "s"} · ${when(t.updatedAt)}` })))));
  markThreads();
}

async function refreshPending() {
  const { approvals } = await api(ws("/approvals"));
  $("st-pending").replaceChildren(...(approvals.length ? approvals.map((a) => el("li", {},
    el("button", { class: "st-item", onclick: () => openThread(a.threadId) },
      el("span", { class: "st-item-title", text: `${a.kind} ${a.target}` }),
      el("span", { class: "st-dim", text: ` from ${a.agent}` })))) : [el("li", { class: "st-dim", text: "nothing" })]));
  // a run paused elsewhere in the open thread: show it here too
  for (const a of approvals) if (a.threadId === state.thread) addRun(a.runId);
}

async function refreshRunsTable() {
  const { runs } = await api(ws("/runs"));
  $("st-runs-table").replaceChildren(
    el("tr", {}, ...["status", "prompt", "thread", "started", "events", "trace"].map((t) => el("th", { text: t }))),
    ...runs.map((r) => el("tr", {},
      el("td", {}, el("span", { class: `st-pill st-${r.status}`, text: r.status })),
      el("td", {}, el("button", { class: "st-link", onclick: () => { selectTab("chat"); openThread(r.threadId); } },
        r.prompt || r.runId)),
      el("td", { class: "st-mono", text: r.threadId }),
      el("td", { text: when(r.startedAt) }),
      el("td", { text: String(r.events ?? "") }),
      el("td", {}, r.traceId ? el("button", { class: "st-link", onclick: () => { selectTab("traces"); openTrace(r.traceId); } }, "trace") : ""))));
}

function refreshLists() {
  if (!state.workspace) return;
  const jobs = [refreshThreads(), refreshPending()];
  if (state.tab === "runs") jobs.push(refreshRunsTable());
  if (state.tab === "traces") jobs.push(refreshTraces());
  if (state.tab === "evals") jobs.push(refreshEvals());
  Promise.all(jobs).catch((err) => { if (err.status !== 401) console.warn(err); });
}

// -- traces ------------------------------------------------------------------------------------
async function refreshTraces() {
  const { traces } = await api(ws("/traces"));
  $("st-traces").replaceChildren(...traces.map((t) => el("li", {},
    el("button", { class: "st-item", "data-trace": t.traceId, onclick: () => openTrace(t.traceId) },
      el("span", { class: "st-item-title", text: t.prompt || t.traceId }),
      el("span", { class: `st-pill st-${t.status}`, text: t.status }),
      el("span", { class: "st-dim", text: ` ${when(t.startedAt)}${t.evalRunId ? " · eval" : ""}` })))));
}

function renderTrace(trace, container) {
  const steps = stepRows(trace);
  const table = el("table", { class: "st-table st-steps", "aria-label": "Steps" },
    el("tr", {}, ...["step", "agent", "duration", "tokens in", "tokens out", "cost", "status"]
      .map((t) => el("th", { text: t }))),
    ...steps.map((s) => el("tr", {},
      el("td", { style: `padding-left:${6 + s.depth * 14}px` }, el("span", { class: "st-dim", text: `${s.kind} ` }), el("code", { text: s.name })),
      el("td", { text: s.agent || "" }),
      el("td", { class: "st-num", text: s.durationMs == null ? "–" : `${s.durationMs} ms` }),
      el("td", { class: "st-num", text: s.inputTokens == null ? "" : String(s.inputTokens) }),
      el("td", { class: "st-num", text: s.outputTokens == null ? "" : String(s.outputTokens) }),
      el("td", { class: "st-num", text: s.costUsd == null ? "" : `$${s.costUsd.toFixed(4)}` }),
      el("td", {}, el("span", { class: `st-pill st-${s.status}`, text: s.status || "" })))));
  const u = trace.usage || {};
  container.replaceChildren(
    el("div", { class: "st-trace-head" }, el("b", { text: "Total " }),
      `${u.inputTokens ?? 0} in / ${u.outputTokens ?? 0} out tokens`,
      u.costUsd != null ? ` · $${Number(u.costUsd).toFixed(4)}` : "",
      trace.startedAt && trace.endedAt ? ` · ${trace.endedAt - trace.startedAt} ms` : ""),
    table);
  mount(traceViewer, new Model({ trace }), container);
}

async function openTrace(traceId) {
  const box = $("st-trace");
  box.replaceChildren(el("p", { class: "st-dim", text: "loading…" }));
  try {
    renderTrace(await api(ws(`/traces/${encodeURIComponent(traceId)}`)), box);
  } catch (err) {
    box.replaceChildren(el("div", { class: "st-error", text: err.message }));
  }
}

// -- evals -------------------------------------------------------------------------------------
function evalFold(model, envelopes, details) {
  const s = model.traits;
  const cases = new Map((s.cases || []).map((c) => [c.id, c]));
  const caseOf = (id) => {
    if (!cases.has(id)) cases.set(id, { id, samples: [], finished: false, passRate: null, meanScore: null, passAtK: {}, latencyMs: null });
    return cases.get(id);
  };
  const row = (caseId, smp) => {
    details.set(`${caseId}#${smp.index}`, smp);
    return { index: smp.index, score: smp.score, passed: !!smp.passed, latencyMs: smp.latencyMs,
      error: !!smp.error, note: String(smp.error || smp.finalText || "").slice(0, 120) };
  };
  let { total = 0, done = 0, passed = 0, status = "running", name = "", result = {} } = s;
  for (const env of envelopes) {
    const d = env.data || {};
    if (env.type === "eval-start") {
      name = d.name || "eval"; total = d.totalSamples || 0;
      for (const id of d.caseIds || []) caseOf(id);
    } else if (env.type === "sample-finish") {
      caseOf(d.caseId).samples.push(row(d.caseId, d.sample));
      done += 1; passed += d.passed ? 1 : 0;
    } else if (env.type === "case-finish" || env.type === "eval-finish") {
      for (const c of env.type === "case-finish" ? [d] : (d.testCases || [])) {
        const samples = (c.samples || []).map((smp) => row(c.id, smp));
        const lat = samples.map((x) => x.latencyMs).filter((x) => typeof x === "number");
        cases.set(c.id, { id: c.id, samples, finished: true, passRate: c.passRate, meanScore: c.meanScore,
          passAtK: c.passAtK || {}, latencyMs: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null });
      }
      if (env.type === "eval-finish") {
        status = "finished";
        const all = [...cases.values()].flatMap((c) => c.samples);
        done = all.length; passed = all.filter((x) => x.passed).length;
        result = { aggregateScore: d.aggregateScore, passed: d.passed,
          threshold: d.config?.passThreshold, strategy: d.config?.aggregationStrategy };
      }
    }
  }
  model.update({ name, total, done, passed, status, result, cases: [...cases.values()] });
}

let evalSource = null;
async function openEval(evalRunId) {
  if (evalSource) { evalSource.close(); state.sources.delete(evalSource); }
  const box = $("st-eval");
  box.replaceChildren();
  const details = new Map();
  const traceBox = el("div", { class: "st-eval-trace" });
  const model = new Model({ name: "", status: "running", total: 0, done: 0, passed: 0, cases: [],
    result: {}, error: "", selected: {}, trace_ref: "" }, async (msg) => {
    if (msg.type !== "open-sample") return;
    const sample = details.get(`${msg.caseId}#${msg.index}`) || {};
    model.set("selected", { caseId: msg.caseId, index: msg.index, score: sample.score, passed: !!sample.passed,
      components: sample.components || [], trajectory: sample.trajectory || [], error: sample.error,
      finalText: sample.finalText || "" });
    traceBox.replaceChildren(el("p", { class: "st-dim", text: "loading the sample's trace…" }));
    try {
      const traceId = sample.traceId;
      if (!traceId) throw new Error("this sample recorded no trace");
      renderTrace(await api(ws(`/traces/${encodeURIComponent(traceId)}`)), traceBox);
    } catch (err) {
      traceBox.replaceChildren(el("div", { class: "st-error", text: err.message }));
    }
  });
  mount(evalView, model, box);
  box.append(traceBox);
  const source = follow(ws(`/evals/${encodeURIComponent(evalRunId)}/events`),
    (envs) => evalFold(model, envs, details), () => refreshEvals());
  source.onerror = () => { if (model.get("status") === "finished") source.close(); };
  evalSource = source;
  state.sources.add(source);
}

async function refreshEvals() {
  const { evals } = await api(ws("/evals"));
  $("st-evals").replaceChildren(...(evals.length ? evals.map((e) => el("li", {},
    el("button", { class: "st-item", onclick: () => openEval(e.evalRunId) },
      el("span", { class: "st-item-title", text: e.name }),
      el("span", { class: `st-pill st-${e.status}`, text: e.status }),
      el("span", { class: "st-dim", text: e.aggregateScore == null ? "" : ` score ${Number(e.aggregateScore).toFixed(2)}` }))))
    : [el("li", { class: "st-dim", text: "none yet" })]));
}

async function startEval(event) {
  event.preventDefault();
  $("st-eval-error").textContent = "";
  let request;
  try { request = JSON.parse($("st-eval-request").value); } catch (err) {
    $("st-eval-error").textContent = `not JSON: ${err.message}`;
    return;
  }
  try {
    const { evalRunId } = await api(ws("/evals"), { method: "POST", body: { request } });
    await refreshEvals();
    openEval(evalRunId);
  } catch (err) {
    $("st-eval-error").textContent = err.message;
  }
}

function exampleEval() {
  const entry = state.info?.entryAgent;
  return JSON.stringify({
    name: "smoke",
    testCases: [{ id: "case-1", prompt: "Are any Lisbon products running low? Restock them.",
      ...(entry ? {} : {}) }],
    config: { samplesPerCase: 2 },
  }, null, 2);
}

// -- data ----------------------------------------------------------------------------------------
async function openData() {
  const box = $("st-catalog");
  box.replaceChildren();
  if (!state.info?.hasData) {
    box.append(el("p", { class: "st-dim", text: "This workspace has no data environment." }));
    $("st-sql-form").hidden = true;
    return;
  }
  $("st-sql-form").hidden = false;
  const model = new Model({ mode: "catalog", title: "data catalog", tables: [], table: "", table_info: {},
    query: "", results: [], columns: [], rows: [], row_count: 0, truncated: false, offset: 0,
    page_size: 50, error: "" }, async (msg) => {
    try {
      if (msg.type === "select") {
        const info = await api(ws(`/catalog/tables/${encodeURIComponent(msg.table)}`));
        model.update({ table: msg.table, table_info: info, error: "" });
      } else if (msg.type === "search") {
        const found = await api(ws(`/catalog/search?q=${encodeURIComponent(msg.query)}`));
        model.update({ query: msg.query, results: found.results || [], error: "" });
      }
    } catch (err) { model.set("error", err.message); }
  });
  mount(dataView, model, box);
  try {
    model.set("tables", (await api(ws("/catalog"))).tables || []);
  } catch (err) { model.set("error", err.message); }
}

async function runSql(event) {
  event.preventDefault();
  $("st-sql-error").textContent = "";
  const box = $("st-sql-result");
  try {
    const result = await api(ws("/sql"), { method: "POST", body: { sql: $("st-sql").value, limit: 1000 } });
    box.replaceChildren();
    const size = 50;
    const model = new Model({ mode: "result", title: "query result", columns: result.columns,
      rows: result.rows.slice(0, size), row_count: result.rowCount, truncated: result.truncated,
      offset: 0, page_size: size, error: "", tables: [] }, (msg) => {
      if (msg.type !== "page") return;
      const start = Math.max(0, Math.min(msg.offset, Math.max(0, result.rows.length - 1)));
      model.update({ offset: start, rows: result.rows.slice(start, start + size) });
    });
    mount(dataView, model, box);
  } catch (err) {
    $("st-sql-error").textContent = err.message;
  }
}

// -- agents ------------------------------------------------------------------------------------
function renderAgents() {
  const info = state.info;
  $("st-agents").replaceChildren(
    el("h2", { text: `${info.name}` }),
    el("p", { class: "st-dim", text: `${info.description || ""} · tenant ${info.tenant} · interpreter ${info.interpreter}` }),
    el("table", { class: "st-table" },
      el("tr", {}, ...["agent", "role", "model", "routes", "tools", "toolkits", "plan"].map((t) => el("th", { text: t }))),
      ...info.agents.map((a) => el("tr", {},
        el("td", {}, el("code", { text: a.name })), el("td", { text: a.role }), el("td", { text: a.model || "" }),
        el("td", { text: a.routes.join(", ") }), el("td", { text: a.tools.join(", ") }),
        el("td", { text: a.toolkits.join(", ") }), el("td", { text: a.plan || "" })))),
    info.tools.length ? el("h3", { text: "Tools" }) : null,
    ...info.tools.map((t) => el("div", { class: "st-tool" }, el("code", { text: t.name }), ` ${t.description || ""}`)),
    mcpHelp());
}

// Every workspace's MCP endpoint (served by `flowai-nb studio`, not inside Jupyter Server).
function mcpHelp() {
  const served = state.app.workspaces.filter((w) => w.mcpPath);
  if (!served.length) return null;
  return el("section", { class: "st-mcp", "aria-label": "Connect over MCP" },
    el("h3", { text: "Connect over MCP" }),
    el("p", { class: "st-dim", text: "Any MCP client reaches a workspace's tools, agents (ask) and "
      + "references at its URL (Streamable HTTP). Send the token of the login URL as "
      + "'Authorization: Bearer <token>'. The plain /mcp serves the first workspace." }),
    el("table", { class: "st-table" },
      el("tr", {}, el("th", { text: "workspace" }), el("th", { text: "MCP URL" })),
      ...served.map((w) => el("tr", { "aria-current": w.name === state.workspace ? "true" : null },
        el("td", { text: w.name }),
        el("td", {}, el("code", { text: new URL(w.mcpPath, location.href).href }))))));
}

// -- shell -----------------------------------------------------------------------------------------
function selectTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll("[role=tab]")) {
    const on = b.dataset.tab === name;
    b.setAttribute("aria-selected", on ? "true" : "false");
    b.tabIndex = on ? 0 : -1;
  }
  for (const s of document.querySelectorAll(".st-tab")) s.hidden = s.id !== `tab-${name}`;
  if (name === "data") openData();
  if (name === "agents" && state.info) renderAgents();
  refreshLists();
}

async function selectWorkspace(name) {
  $("st-run").disabled = true; // until the workspace is ready (a run must not be wiped)
  state.workspace = name;
  localStorage.setItem("flowai-studio-workspace", name);
  try {
    state.info = await api(ws());
  } catch (err) {
    $("st-chat-error").textContent = err.message;
    return;
  }
  $("st-eval-request").value = exampleEval();
  await openThread(null);
  selectTab(state.tab);
  $("st-run").disabled = false;
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("flowai-studio-theme", theme);
}

async function main() {
  const saved = localStorage.getItem("flowai-studio-theme");
  setTheme(saved || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
  $("st-theme").addEventListener("click", () =>
    setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
  for (const b of document.querySelectorAll("[role=tab]")) {
    b.addEventListener("click", () => selectTab(b.dataset.tab));
    b.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      const tabs = [...document.querySelectorAll("[role=tab]")];
      const next = tabs[(tabs.indexOf(b) + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      selectTab(next.dataset.tab);
    });
  }
  $("st-prompt-form").addEventListener("submit", startRun);
  $("st-prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("st-prompt-form").requestSubmit();
  });
  $("st-new-thread").addEventListener("click", () => { openThread(null); $("st-prompt").focus(); });
  $("st-eval-form").addEventListener("submit", startEval);
  $("st-sql-form").addEventListener("submit", runSql);
  let app;
  try {
    app = await api("app");
  } catch (_err) {
    return; // 401: the login notice is shown
  }
  state.app = app;
  $("st-app").textContent = app.name;
  const picker = $("st-workspace");
  picker.replaceChildren(...app.workspaces.map((w) => el("option", { value: w.name, text: w.name, title: w.description || "" })));
  const remembered = localStorage.getItem("flowai-studio-workspace");
  const first = app.workspaces.find((w) => w.name === remembered)?.name || app.workspaces[0].name;
  picker.value = first;
  picker.addEventListener("change", () => selectWorkspace(picker.value));
  await selectWorkspace(first);
  setInterval(() => { if (!document.hidden) refreshLists(); }, 2000);
}

main();
