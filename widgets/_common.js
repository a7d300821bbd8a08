// Helpers shared by the flowai widgets. Python concatenates this file in front
// of each widget module, so these are plain functions, not exports.

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function asText(value) {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch (_err) {
    return String(value);
  }
}

function oneLine(value, limit = 80) {
  const text = (typeof value === "string" ? value : JSON.stringify(value) ?? "")
    .replace(/\s+/g, " ");
  return text.length <= limit ? text : text.slice(0, limit - 1) + "…";
}

// A mapping as a two-column table; anything else as preformatted JSON.
function kvTable(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const rows = Object.entries(value).map(([k, v]) =>
      h("tr", {}, h("th", { text: k }),
        h("td", {}, h("pre", { class: "fa-pre", text: asText(v) }))));
    return h("table", { class: "fa-kv" }, ...rows);
  }
  return h("pre", { class: "fa-pre", text: asText(value) });
}

function badge(status) {
  const slug = String(status || "").replace(/[^a-z]+/gi, "-").toLowerCase();
  return h("span", { class: `fa-badge fa-badge-${slug}`, text: String(status || "") });
}
