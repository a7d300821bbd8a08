// Approval card: what is asked, Approve / Reject / Revise with feedback, then the decision.

function askedFor(kind, payload) {
  const actions = payload?.actions;
  if (kind === "plan" && Array.isArray(actions)) {
    const rows = actions.map((a, i) => {
      const { kind: k, payload: p, references: _r, ...rest } = a || {};
      return h("tr", {}, h("td", { text: String(i + 1) }), h("td", {}, h("code", { text: k ?? "?" })),
        h("td", {}, kvTable(p ?? rest)));
    });
    const { actions: _a, body, ...meta } = payload;
    if (body && typeof body === "object" && !Array.isArray(body)) {
      const { actions: _b, ...fields } = body;
      Object.assign(meta, fields);
    }
    return h("div", {},
      Object.keys(meta).length ? kvTable(meta) : null,
      h("table", { class: "fa-actions" },
        h("tr", {}, h("th", { text: "#" }), h("th", { text: "kind" }), h("th", { text: "payload" })),
        ...rows));
  }
  return kvTable(payload ?? {});
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fa-approval" });
  el.append(root);
  const feedback = h("textarea", { class: "fa-feedback", rows: "2", placeholder: "feedback (optional; used by Revise and Reject)" });
  const buttons = ["approve", "reject", "revise"].map((outcome) =>
    h("button", {
      class: `fa-btn fa-${outcome}`, text: outcome[0].toUpperCase() + outcome.slice(1),
      onclick: () => {
        for (const b of buttons) b.disabled = true;
        model.send({ type: "decision", outcome, feedback: feedback.value });
      },
    }));
  const statusEl = h("div", { class: "fa-decision" });
  const errorEl = h("div", { class: "fa-error" });
  const body = h("div", { class: "fa-asked" });
  root.append(
    h("div", { class: "fa-title" }, "Approval needed: ", h("b", { text: model.get("kind") }), " ",
      h("code", { text: model.get("target") }),
      h("span", { class: "fa-dim", text: model.get("agent") ? ` from ${model.get("agent")}` : "" })),
    body, feedback, h("div", { class: "fa-buttons" }, ...buttons), statusEl, errorEl);
  const draw = () => {
    body.replaceChildren(askedFor(model.get("kind"), model.get("payload")));
    const status = model.get("status");
    const decided = status === "decided";
    for (const b of buttons) b.disabled = status !== "pending";
    feedback.disabled = decided;
    if (decided) {
      const fb = model.get("feedback");
      statusEl.textContent = `decision: ${model.get("outcome")}${fb ? ` (${fb})` : ""}`;
      statusEl.dataset.outcome = model.get("outcome");
    } else {
      statusEl.textContent = status === "sending" ? "sending…" : "waiting for a decision";
    }
    errorEl.textContent = model.get("error");
  };
  draw();
  const names = ["change:status", "change:outcome", "change:feedback", "change:error", "change:payload"];
  for (const name of names) model.on(name, draw);
  return () => { for (const name of names) model.off(name, draw); };
}

export default { render };
