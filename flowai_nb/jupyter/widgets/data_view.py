"""The data view: a catalog browser and a paged grid for SQL results and DataFrames."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import traitlets

from ..._json import cell_value as jsonable
from .._assets import asset_text
from ._base import FlowWidget, esc, frame

__all__ = ["DataView"]


class DataView(FlowWidget):
    """Browse a data environment's catalog, or page through one query result.

    ``DataView(runtime)`` is the catalog browser: tables with row counts; pick
    a table (:meth:`select`) to see its columns, types, null rates and sample
    values; :meth:`search` runs the catalog search. The front end does both
    with a click and a search box.

    ``DataView.for_result(result, runtime=rt)`` is a result grid. Only one page
    of rows at a time travels to the front end; :meth:`show_rows` (or the
    pager buttons) moves through the rest.

    Args:
        source: a runtime created with ``target_database_url=`` or
            ``data_environment=`` (its ``.data`` is used), or a ``DataEnvironment``.
        page_size: rows per page of a result grid.
    """

    _esm = asset_text("_common.js", "data_view.js")
    _css = asset_text("flowai.css", "data_view.css")

    mode = traitlets.Unicode("catalog", help="'catalog' or 'result'").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    tables = traitlets.List([], help="[{table, description, rowCount, columns}]").tag(sync=True)
    table = traitlets.Unicode("", help="the selected table").tag(sync=True)
    table_info = traitlets.Dict({}, help="describe_table() of the selected table").tag(sync=True)
    query = traitlets.Unicode("", help="the last catalog search").tag(sync=True)
    results = traitlets.List([], help="its results, best first").tag(sync=True)
    columns = traitlets.List([]).tag(sync=True)
    rows = traitlets.List([], help="the rows of the current page only").tag(sync=True)
    row_count = traitlets.Int(0).tag(sync=True)
    truncated = traitlets.Bool(False, help="the query had more rows than its limit").tag(sync=True)
    offset = traitlets.Int(0).tag(sync=True)
    page_size = traitlets.Int(50).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, source: Any = None, *, page_size: int = 50, **kwargs: Any) -> None:
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, got {page_size!r}")
        super().__init__(page_size=page_size, **kwargs)
        self._env = None if source is None else _environment(source)
        self._frame: Any = None  # a pandas DataFrame (result mode)
        self._rows: list[list[Any]] = []  # or plain rows (result mode)
        if self._env is not None and self.mode == "catalog":
            self.tables = list(self._env.list_tables()["tables"])
            self.title = "data catalog"
        self.on_msg(_on_message)

    @classmethod
    def for_result(cls, result: Any, *, runtime: Any = None, page_size: int = 50,
                   title: str = "query result") -> DataView:
        """A grid for a ``run_sql`` result, a reference envelope of one, or a DataFrame.

        Args:
            result: ``{"columns", "rows", ...}`` as ``run_sql`` returns inline, a
                reference envelope ``{"kind": "sql_result", "id", ...}``, or a
                pandas DataFrame.
            runtime: the runtime whose store holds a reference envelope's payload.

        Raises:
            ValueError: a reference without ``runtime``. TypeError: anything else.
        """
        view = cls(page_size=page_size, mode="result", title=title)
        view._load(result, runtime)
        view.show_rows(0)
        return view

    # -- catalog -------------------------------------------------------------------------

    def select(self, table: str) -> dict[str, Any]:
        """Show ``table``'s columns (types, null rates, sample values); returns its entry.

        Raises:
            UnknownTable: naming the known tables.
        """
        info = self._need_env().describe_table(table)
        with self.hold_sync():
            self.table, self.table_info, self.error = info["table"], info, ""
        return info

    def search(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Run the catalog search and show the ranked tables; returns them."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"search query must be a non-empty string, got {query!r}")
        found = list(self._need_env().search_catalog(query, limit)["results"])
        with self.hold_sync():
            self.query, self.results, self.error = query, found, ""
        return found

    def refresh(self) -> None:
        """Reload the table list (and the selected table) after the catalog changed."""
        env = self._need_env()
        info = env.describe_table(self.table) if self.table else {}
        with self.hold_sync():
            self.tables = list(env.list_tables()["tables"])
            self.table_info = info

    def close(self) -> None:
        """Release the data this view holds (its data environment, a result's rows) and
        close it. The page keeps the last view, a result's current page included,
        marked closed: a clean-up cell does not blank the notebook's results."""
        self._env, self._frame, self._rows = None, None, []
        super().close()

    def _need_env(self) -> Any:
        self._check_open()
        if self._env is None:
            raise RuntimeError("this DataView shows a result, not a catalog; use "
                               "DataView(runtime) to browse the catalog")
        return self._env

    # -- result grid ---------------------------------------------------------------------

    def _load(self, result: Any, runtime: Any) -> None:
        if _is_frame(result):
            frame_ = result
            if not _plain_index(frame_):
                frame_ = frame_.reset_index()
            self._frame = frame_
            self.columns = [str(c) for c in frame_.columns]
            self.row_count = len(frame_)
            return
        if isinstance(result, Mapping) and "columns" in result and "rows" in result:
            self._rows = list(result["rows"])
            self.columns = [str(c) for c in result["columns"]]
            self.row_count = len(self._rows)
            self.truncated = bool(result.get("truncated", False))
            return
        if isinstance(result, Mapping) and "id" in result and "kind" in result:
            if runtime is None:
                raise ValueError(f"result is a reference ({result.get('kind')!r} "
                                 f"{result.get('id')!r}); pass runtime=rt to open it")
            self._load(runtime.references.resolve(result), None)
            self.truncated = self.truncated or bool(
                (result.get("glimpse") or {}).get("truncated", False))
            return
        raise TypeError("DataView.for_result() takes a run_sql result {columns, rows}, a "
                        f"reference envelope of one, or a pandas DataFrame; got "
                        f"{type(result).__name__}")

    def show_rows(self, start: int) -> None:
        """Show the page of rows beginning at row ``start`` (0-based, clamped to the data)."""
        if not isinstance(start, int) or isinstance(start, bool):
            raise TypeError(f"start must be an int row number, got {start!r}")
        self._check_open()
        last_page = max(0, (self.row_count - 1) // self.page_size * self.page_size)
        start = min(max(0, start), last_page)
        with self.hold_sync():
            self.offset, self.rows, self.error = start, self._page(start), ""

    def _page(self, start: int) -> list[list[Any]]:
        stop = start + self.page_size
        if self._frame is None:
            return [[jsonable(v) for v in row] for row in self._rows[start:stop]]
        page = self._frame.iloc[start:stop].astype(object)
        page = page.where(page.notna(), None)
        return [[_cell(v) for v in row] for row in page.itertuples(index=False, name=None)]

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{self._repr_text()} is closed: it released its data; "
                               "create a new DataView to browse or page again")

    def _range(self) -> str:
        if not self.row_count:
            return "no rows"
        end = min(self.offset + self.page_size, self.row_count)
        more = "+ (truncated at the query limit)" if self.truncated else ""
        return f"rows {self.offset + 1:,}–{end:,} of {self.row_count:,}{more}"

    def _closed_note(self, html_: bool = False) -> str:
        if not self._closed:
            return ""
        if not html_:
            return ", closed"
        return ("<div><i>closed: this view released its data; the last "
                f"{'page' if self.mode == 'result' else 'view'} shown stays here</i></div>")

    def _closed_title(self) -> str:
        return " · closed" if self._closed else ""

    # -- display -------------------------------------------------------------------------

    def _repr_text(self) -> str:
        if self.mode == "result":
            return (f"DataView(result: {self.row_count:,} rows × {len(self.columns)} columns, "
                    f"{self._range()}{self._closed_note()})")
        total = sum(t.get("rowCount") or 0 for t in self.tables)
        shown = f", table={self.table!r}" if self.table else ""
        return (f"DataView(catalog: {len(self.tables)} tables, {total:,} rows{shown}"
                f"{self._closed_note()})")

    def _repr_html(self) -> str:
        if self.mode == "result":
            body = _grid(self.columns, self.rows) + f"<div><i>{esc(self._range())}</i></div>"
            return frame(esc(self.title or "query result") + self._closed_title(),
                         body + self._closed_note(True), "flowai-data")
        tables = _grid(["table", "rows", "columns", "description"], [
            [t.get("table"), _count(t.get("rowCount")), t.get("columns"), t.get("description")]
            for t in self.tables])
        parts = [tables]
        if self.query:
            parts.append(f"<div><b>search</b> <code>{esc(self.query)}</code></div>" + _grid(
                ["table", "score", "matched columns"],
                [[r.get("table"), r.get("score"), ", ".join(r.get("matchedColumns") or [])]
                 for r in self.results]))
        if self.table_info:
            parts.append(f"<div><b>{esc(self.table)}</b></div>" + _grid(
                ["column", "type", "nulls", "samples"], _column_rows(self.table_info)))
        return frame(f"data catalog · {len(self.tables)} tables{self._closed_title()}",
                     "".join(parts) + self._closed_note(True), "flowai-data")


# -- helpers -------------------------------------------------------------------------------

def _on_message(widget: DataView, content: Any, buffers: Any) -> None:
    if not isinstance(content, dict):
        return
    kind = content.get("type")
    try:
        if kind == "select":
            widget.select(str(content.get("table", "")))
        elif kind == "search":
            widget.search(str(content.get("query", "")))
        elif kind == "page":
            widget.show_rows(int(content.get("offset", 0)))
    except Exception as exc:  # shown in the widget: a kernel-side traceback helps no one
        widget.error = _explain(exc)


def _explain(exc: Exception) -> str:
    if "closed" in str(exc).lower() and "connection" in str(exc).lower():
        return ("the data environment was closed (rt.close()); create the runtime again "
                "to browse or page it")
    return f"{type(exc).__name__}: {exc}"


def _environment(source: Any) -> Any:
    if hasattr(source, "list_tables") and hasattr(source, "describe_table"):
        return source
    env = getattr(source, "data", None)
    if env is None:
        raise ValueError(f"{type(source).__name__} has no data environment; create the runtime "
                         "with target_database_url=... or data_environment=...")
    return env


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "iloc")


def _plain_index(frame_: Any) -> bool:
    import pandas as pd

    index = frame_.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 \
        and index.name is None


def _cell(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and not isinstance(value, str | bytes):
        try:
            value = item()
        except (TypeError, ValueError):
            pass
    return jsonable(value)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ""


def _column_rows(info: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for column in info.get("columns") or []:
        rate = column.get("nullRate")
        nulls = f"{rate:.1%}" if isinstance(rate, int | float) else ""
        samples = ", ".join(str(v) for v in (column.get("sampleValues") or []))
        rows.append([column.get("name"), column.get("type"), nulls, samples])
    return rows


def _grid(columns: list[Any], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{esc(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{'' if v is None else esc(v)}</td>" for v in row) + "</tr>"
        for row in rows)
    return f"<table class='fnb-grid'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
