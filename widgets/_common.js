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
        h("td", {}, h("pre", { class: "fnb-pre", text: asText(v) }))));
    return h("table", { class: "fnb-kv" }, ...rows);
  }
  return h("pre", { class: "fnb-pre", text: asText(value) });
}

// The tone (colour family) a status reads in: ok, bad, warn or info.
const TONES = {
  ok: ["completed", "executed", "approved", "approve", "passed", "done", "ok"],
  bad: ["failed", "rejected", "reject", "error"],
  warn: ["cancelled", "waiting for approval", "pending approval", "pending_approval", "revise",
    "revised", "paused", "pending"],
  info: ["running", "executing", "starting", "sending", "draft", "approved, executing"],
};

function toneOf(status) {
  const text = String(status || "").toLowerCase();
  for (const [tone, words] of Object.entries(TONES)) if (words.includes(text)) return tone;
  return "";
}

function badge(status, tone = toneOf(status)) {
  const slug = String(status || "").replace(/[^a-z]+/gi, "-").toLowerCase();
  return h("span", { class: `fnb-badge fnb-badge-${slug}${tone ? ` fnb-${tone}` : ""}`,
    text: String(status || "") });
}

// Long content collapsed behind "show more" (it expands in place; "show less" folds it).
function collapsible(node, { lines = 12, chars = 800 } = {}) {
  const text = node.textContent || "";
  if (text.length <= chars && text.split("\n").length <= lines) return node;
  node.classList.add("fnb-clip");
  const more = h("button", { class: "fnb-more", type: "button", text: "show more" });
  more.addEventListener("click", () => {
    const clipped = node.classList.toggle("fnb-clip");
    more.textContent = clipped ? "show more" : "show less";
  });
  return h("div", { class: "fnb-collapsible" }, node, more);
}

// A small "copy" button that puts text on the clipboard.
function copyButton(getText, label = "copy") {
  const button = h("button", { class: "fnb-copy", type: "button", text: label, title: "copy to clipboard" });
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    event.stopPropagation();
    try {
      await navigator.clipboard.writeText(getText());
      button.textContent = "copied";
    } catch (_err) {
      button.textContent = "copy failed";
    }
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}

function fmtMs(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
}

function fmtUsage(usage) {
  if (!usage) return "";
  const parts = [];
  const tin = usage.inputTokens, tout = usage.outputTokens;
  if (tin || tout) parts.push(`${(tin || 0).toLocaleString("en-US")} in / ${(tout || 0).toLocaleString("en-US")} out tokens`);
  if (typeof usage.costUsd === "number" && usage.costUsd > 0) parts.push(`$${usage.costUsd.toFixed(4)}`);
  return parts.join(" · ");
}

// A tiny, safe markdown renderer for final answers: headings, paragraphs, lists, code
// blocks, inline code, bold, italics and http(s) links. Everything is built as DOM nodes
// (no innerHTML), so model output can never inject markup.
function inlineMd(text) {
  const out = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\(https?:\/\/[^)\s]+\))/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const t = m[0];
    if (m[1]) out.push(h("code", { text: t.slice(1, -1) }));
    else if (m[2]) out.push(h("strong", { text: t.slice(2, -2) }));
    else if (m[3]) out.push(h("em", { text: t.slice(1, -1) }));
    else {
      const [, label, href] = t.match(/^\[([^\]]+)\]\(([^)]+)\)$/);
      out.push(h("a", { href, target: "_blank", rel: "noopener noreferrer", text: label }));
    }
    last = m.index + t.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function markdown(text) {
  const root = h("div", { class: "fnb-md" });
  const lines = String(text || "").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^```/.test(line)) {
      const body = [];
      i += 1;
      while (i < lines.length && !/^```/.test(lines[i])) body.push(lines[i++]);
      i += 1;
      root.append(h("pre", { text: body.join("\n") }));
    } else if (/^#{1,4}\s/.test(line)) {
      const level = line.match(/^#+/)[0].length;
      root.append(h(`h${level}`, {}, ...inlineMd(line.replace(/^#+\s*/, ""))));
      i += 1;
    } else if (/^\s*([-*]|\d+[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length && /^\s*([-*]|\d+[.)])\s+/.test(lines[i])) {
        list.append(h("li", {}, ...inlineMd(lines[i].replace(/^\s*([-*]|\d+[.)])\s+/, ""))));
        i += 1;
      }
      root.append(list);
    } else if (!line.trim()) {
      i += 1;
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() && !/^(```|#{1,4}\s|\s*([-*]|\d+[.)])\s+)/.test(lines[i])) {
        para.push(lines[i++]);
      }
      const p = h("p");
      para.forEach((l, k) => { if (k) p.append(h("br")); p.append(...inlineMd(l)); });
      root.append(p);
    }
  }
  return root;
}
