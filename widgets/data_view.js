// Data view: a catalog browser (tables, columns, search) and a paged result grid.
// Python owns the data: clicks send small requests ({type: select|search|page}) and
// the kernel answers by setting traits (one page of rows at a time).

function fmtCount(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "";
}

function cellText(v) {
  if (v === null || v === undefined) return "";
  return typeof v === "string" ? v : JSON.stringify(v);
}

// Columns named in `wrap` wrap at word boundaries (prose such as descriptions);
// the others stay on one line.
function grid(columns, rows, onRow, wrap = []) {
  const head = h("tr", {}, ...columns.map((c) => h("th", { text: String(c) })));
  const body = rows.map((row, i) => {
    const tr = h("tr", { class: onRow ? "fnb-clickable" : undefined },
      ...row.map((v, j) => h("td", {
        class: v === null ? "fnb-null" : wrap.includes(columns[j]) ? "fnb-wrap" : undefined,
        text: v === null ? "null" : cellText(v) })));
    if (onRow) tr.addEventListener("click", () => onRow(i));
    return tr;
  });
  return h("table", { class: "fnb-grid" }, h("thead", {}, head), h("tbody", {}, ...body));
}

function resultView(model) {
  const count = model.get("row_count");
  const size = model.get("page_size");
  const offset = model.get("offset");
  const end = Math.min(offset + size, count);
  const more = model.get("truncated") ? "+ (truncated at the query limit)" : "";
  const label = count ? `rows ${fmtCount(offset + 1)}–${fmtCount(end)} of ${fmtCount(count)}${more}`
    : "no rows";
  const go = (start) => model.send({ type: "page", offset: start });
  const lastPage = Math.max(0, Math.floor((count - 1) / size) * size);
  const button = (text, start, disabled) => {
    const b = h("button", { class: "fnb-btn fnb-page", text, title: `rows from ${start + 1}` });
    b.disabled = disabled;
    b.addEventListener("click", () => go(start));
    return b;
  };
  const pager = h("div", { class: "fnb-pager" },
    button("«", 0, offset === 0), button("‹", Math.max(0, offset - size), offset === 0),
    h("span", { class: "fnb-range", text: label }),
    button("›", offset + size, end >= count), button("»", lastPage, end >= count));
  return [h("div", { class: "fnb-grid-wrap" }, grid(model.get("columns"), model.get("rows"))), pager];
}

function tableDetail(info) {
  const rows = (info.columns || []).map((c) => [
    c.name, c.type,
    typeof c.nullRate === "number" ? `${(100 * c.nullRate).toFixed(1)}%` : "",
    typeof c.distinctCount === "number" ? fmtCount(c.distinctCount) : "",
    (c.sampleValues || []).map(cellText).join(", "),
    c.description || "",
  ]);
  const fks = (info.foreignKeys || []).map((fk) =>
    h("div", { class: "fnb-dim", text:
      `${fk.columns.join(", ")} → ${fk.referencesTable}(${(fk.referencesColumns || []).join(", ")})` }));
  return h("div", { class: "fnb-table-detail" },
    h("div", { class: "fnb-title" }, h("code", { text: info.table }),
      h("span", { class: "fnb-dim", text: `${fmtCount(info.rowCount)} rows` }),
      info.description ? h("span", { text: info.description }) : null),
    grid(["column", "type", "nulls", "distinct", "samples", "description"], rows, null,
      ["samples", "description"]), ...fks);
}

function catalogView(model) {
  const tables = model.get("tables") || [];
  const selected = model.get("table");
  const select = (name) => model.send({ type: "select", table: name });
  const list = h("ul", { class: "fnb-table-list" }, ...tables.map((t) =>
    h("li", { class: t.table === selected ? "fnb-selected" : undefined, onclick: () => select(t.table) },
      h("code", { text: t.table }), " ", h("span", { class: "fnb-dim", text: fmtCount(t.rowCount) }))));
  const input = h("input", { class: "fnb-search", type: "search", placeholder: "search the catalog…" });
  input.value = model.get("query") || "";
  const submit = () => {
    if (input.value.trim()) model.send({ type: "search", query: input.value });
  };
  // Keys typed here are ours: JupyterLab's notebook shortcuts (Enter, A, B, D…) must not see them.
  input.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter") { e.preventDefault(); submit(); }
  });
  const form = h("div", { class: "fnb-search-form" }, input,
    h("button", { class: "fnb-btn", type: "button", text: "search", onclick: submit }));
  const results = model.get("query")
    ? h("ol", { class: "fnb-results" }, ...(model.get("results") || []).map((r) =>
      h("li", { class: "fnb-clickable", onclick: () => select(r.table) },
        h("code", { text: r.table }), " ",
        h("span", { class: "fnb-dim", text: `score ${Number(r.score).toFixed(2)}` }),
        (r.matchedColumns || []).length ? ` · ${r.matchedColumns.join(", ")}` : "",
        r.description ? h("div", { class: "fnb-dim", text: r.description }) : null)))
    : null;
  const noHits = model.get("query") && !(model.get("results") || []).length
    ? h("div", { class: "fnb-dim", text: "no matching tables" }) : null;
  const info = model.get("table_info");
  const detail = info && info.table ? tableDetail(info)
    : h("div", { class: "fnb-dim", text: "pick a table to see its columns" });
  return [h("div", { class: "fnb-catalog" },
    h("div", { class: "fnb-catalog-side" }, form, results, noHits, list), detail)];
}

function render({ model, el }) {
  const root = h("div", { class: "flowai fnb-data" });
  el.append(root);
  const draw = () => {
    const error = model.get("error");
    const isResult = model.get("mode") === "result";
    const head = h("div", { class: "fnb-title" }, h("b", { text: model.get("title") || "" }),
      isResult ? h("span", { class: "fnb-dim",
        text: `${fmtCount(model.get("row_count"))} rows × ${model.get("columns").length} columns` })
        : h("span", { class: "fnb-dim", text: `${(model.get("tables") || []).length} tables` }));
    root.replaceChildren(...[head, ...(isResult ? resultView(model) : catalogView(model)),
      error ? h("div", { class: "fnb-error", text: error }) : null].filter(Boolean));
  };
  draw();
  const names = ["mode", "title", "tables", "table", "table_info", "query", "results", "columns",
    "rows", "row_count", "offset", "page_size", "truncated", "error"];
  // hold_sync sends several traits in one message: redraw once per message.
  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => { pending = false; draw(); });
  };
  for (const name of names) model.on(`change:${name}`, schedule);
  return () => { for (const name of names) model.off(`change:${name}`, schedule); };
}

export default { render };
