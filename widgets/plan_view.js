// Plan view: the plan's actions with their live status.

function payloadOf(action) {
  if (!action || typeof action !== "object") return action;
  if ("payload" in action) return action.payload;
  const { kind: _kind, ...rest } = action;
  return rest;
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fnb-plan" });
  el.append(root);
  const draw = () => {
    const actions = model.get("actions") || [];
    const statuses = model.get("action_statuses") || [];
    const planStatus = model.get("status");
    const rows = actions.map((action, i) => {
      const status = statuses[i] || planStatus;
      const refs = action?.references && Object.keys(action.references).length
        ? h("div", { class: "fnb-refs", text: `references: ${oneLine(action.references, 120)}` })
        : null;
      const edited = (model.get("edited") || []).includes(i)
        ? badge("edited", "info") : null;
      return h("tr", { class: "fnb-action", "data-status": status },
        h("td", { text: String(i + 1) }),
        h("td", {}, h("code", { text: action?.kind ?? "?" })),
        h("td", {}, edited, kvTable(payloadOf(action)), refs),
        h("td", {}, badge(status.replace(/_/g, " "))));
    });
    root.replaceChildren(
      h("div", { class: "fnb-title" }, "plan ", h("code", { text: model.get("plan") }), " ",
        badge(planStatus.replace(/_/g, " ")),
        h("span", { class: "fnb-dim", text: ` ${model.get("plan_id")}` })),
      h("table", { class: "fnb-actions" },
        h("tr", {}, h("th", { text: "#" }), h("th", { text: "kind" }),
          h("th", { text: "payload" }), h("th", { text: "status" })),
        ...rows));
  };
  draw();
  const names = ["change:actions", "change:action_statuses", "change:status", "change:plan",
    "change:edited"];
  for (const name of names) model.on(name, draw);
  return () => { for (const name of names) model.off(name, draw); };
}

export default { render };
