"""The data view on a real sample SQLite: catalog browsing, search, paged result grids."""

from __future__ import annotations

import json
import sqlite3

import pytest

import flowai_nb as fa
from flowai_nb.data.sample import make_sample_sqlite, sample_catalog
from flowai_nb.jupyter._assets import asset_path
from flowai_nb.jupyter.widgets.data_view import DataView

from .fakes import front_end_says


@pytest.fixture
def db(tmp_path):
    return make_sample_sqlite(tmp_path / "retail.db")


@pytest.fixture
def runtime(db):
    spec = fa.define_runtime(
        fa.define_tenant("shop", "1"),
        agents=[fa.define_specialist("analyst", model="scripted", prompt="Answer with SQL.",
                                     toolkits=["catalog", "sql"])],
        providers={"scripted": {"scripts": {"analyst": [{"text": "ok"}]}}})
    rt = fa.create_runtime(spec, interpreter="scripted", target_database_url=f"sqlite:///{db}")
    yield rt
    rt.close()


def _count(db, table: str) -> int:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_catalog_lists_tables_with_their_row_counts(runtime, db) -> None:
    view = DataView(runtime)
    counts = {t["table"]: t["rowCount"] for t in view.tables}
    assert counts == {t: _count(db, t) for t in ("inventory", "products", "sales", "stores")}
    total = sum(counts.values())
    assert repr(view) == f"DataView(catalog: 4 tables, {total:,} rows)"
    html = view._repr_html()
    assert html.startswith("<div class='flowai") and "<td>sales</td><td>3,000</td>" in html


def test_clicking_a_table_shows_columns_null_rates_and_samples(runtime, recording_comms) -> None:
    view = DataView(runtime)
    front_end_says(view, {"type": "select", "table": "sales"})
    assert view.table == "sales" and view.error == ""
    columns = {c["name"]: c for c in view.table_info["columns"]}
    assert columns["discount"]["type"] == "DOUBLE"
    assert 0.5 < columns["discount"]["nullRate"] < 1  # most sales have no discount
    assert columns["sale_id"]["nullRate"] == 0 and columns["sale_id"]["sampleValues"]
    # table and its entry arrive together, in one message
    last = view.comm.updates()[-1]
    assert set(last) >= {"table", "table_info"}
    assert "<td>discount</td><td>DOUBLE</td>" in view._repr_html()
    assert repr(view).endswith(", table='sales')")

    front_end_says(view, {"type": "select", "table": "salez"})
    assert "salez" in view.error and "sales" in view.error and view.table == "sales"


def test_refresh_picks_up_catalog_descriptions(runtime, db) -> None:
    view = DataView(runtime)
    view.select("sales")
    assert view.table_info["description"] is None
    runtime.data.catalog.add(*sample_catalog(db))
    view.refresh()
    described = {t["table"]: t["description"] for t in view.tables}
    assert described["sales"] == view.table_info["description"] == runtime.data.describe_table(
        "sales")["description"]
    assert described["sales"] and "One row per sale" in view._repr_html()


def test_search_box_round_trip_ranks_matching_tables(runtime) -> None:
    view = DataView(runtime)
    front_end_says(view, {"type": "search", "query": "discount customer"})
    assert view.query == "discount customer"
    assert view.results[0]["table"] == "sales"
    assert {"discount", "customer_id"} <= set(view.results[0]["matchedColumns"])
    scores = [r["score"] for r in view.results]
    assert scores == sorted(scores, reverse=True)
    update = view.comm.updates()[-1]
    assert update["query"] == "discount customer" and update["results"] == view.results
    assert "<code>discount customer</code>" in view._repr_html()
    front_end_says(view, {"type": "search", "query": "  "})
    assert "non-empty" in view.error


def test_reference_result_is_paged_and_only_pages_travel(runtime, recording_comms) -> None:
    envelope = runtime.data.run_sql("SELECT * FROM sales ORDER BY sale_id", limit=5000)
    assert envelope["kind"] == "sql_result"  # too large to be inline
    view = DataView.for_result(envelope, runtime=runtime)
    assert (view.row_count, len(view.rows), view.offset) == (3000, 50, 0)
    assert view.columns[0] == "sale_id" and view.rows[0][0] == 1
    assert repr(view) == "DataView(result: 3,000 rows × 8 columns, rows 1–50 of 3,000)"

    front_end_says(view, {"type": "page", "offset": 50})
    assert view.rows[0][0] == 51 and "rows 51–100 of 3,000" in view._repr_html()
    front_end_says(view, {"type": "page", "offset": 10_000})  # past the end: the last page
    assert view.offset == 2950 and view.rows[-1][0] == 3000
    for message in view.comm.sent:
        state = message["data"].get("state") or {}
        assert len(state.get("rows", [])) <= view.page_size
        assert len(json.dumps(message["data"])) < 64_000


def test_dataframe_grid_shows_nulls_and_a_stable_static_table(runtime) -> None:
    frame = runtime.data.frame("SELECT sale_id, discount, sold_on FROM sales ORDER BY sale_id")
    view = DataView.for_result(frame, page_size=20)
    assert view.row_count == len(frame) == 3000 and len(view.rows) == 20
    discounts = [row[1] for row in view.rows]
    assert None in discounts and all(d is None or isinstance(d, float) for d in discounts)
    assert all(isinstance(row[0], int) for row in view.rows)
    json.dumps(view.rows)  # plain JSON values only
    html = view._repr_html()
    assert html.count("<tr>") == 21 and "rows 1–20 of 3,000" in html
    again = DataView.for_result(frame, page_size=20)
    assert (repr(again), again._repr_html()) == (repr(view), html)

    indexed = DataView.for_result(frame.set_index("sale_id").head(3))
    assert indexed.columns == ["sale_id", "discount", "sold_on"]


def test_inline_result_keeps_the_truncated_flag(runtime) -> None:
    result = runtime.data.run_sql("SELECT store_id, name FROM stores ORDER BY store_id", limit=5)
    assert result["truncated"] is True
    view = DataView.for_result(result)
    assert view.rows == result["rows"] and view.truncated
    assert repr(view).endswith("rows 1–5 of 5+ (truncated at the query limit))")


def test_bad_sources_say_what_to_do(runtime) -> None:
    envelope = runtime.data.run_sql("SELECT * FROM sales", limit=5000)
    with pytest.raises(ValueError, match="runtime=rt"):
        DataView.for_result(envelope)
    with pytest.raises(TypeError, match="DataFrame"):
        DataView.for_result([1, 2, 3])
    with pytest.raises(ValueError, match="page_size"):
        DataView(runtime, page_size=0)

    class NoData:
        data = None

    with pytest.raises(ValueError, match="target_database_url"):
        DataView(NoData())
    with pytest.raises(RuntimeError, match="DataView\\(runtime\\)"):
        DataView.for_result({"columns": ["a"], "rows": [[1]]}).search("x")


def test_front_end_is_packaged() -> None:
    assert "function h(" in DataView._esm and "export default { render }" in DataView._esm
    assert DataView._css.startswith(asset_path("flowai.css").read_text())
    assert asset_path("data_view.css").read_text() in DataView._css


def test_browsing_a_closed_environment_says_so_plainly(runtime, recording_comms,
                                                      monkeypatch) -> None:
    import duckdb

    view = DataView(runtime)

    def closed(*args, **kwargs):
        raise duckdb.ConnectionException("Connection already closed!")

    monkeypatch.setattr(view._env, "search_catalog", closed)
    front_end_says(view, {"type": "search", "query": "sales"})
    assert view.error.startswith("the data environment was closed (rt.close())")


def _displayed(monkeypatch, widget) -> list:
    """Display ``widget`` as a notebook cell would; returns the display updates sent later."""
    import IPython.display

    updates: list = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: None)
    monkeypatch.setattr(IPython.display, "update_display",
                        lambda obj, **kw: updates.append((obj, kw)))
    widget._ipython_display_()
    return updates


def test_closing_a_grid_releases_its_rows_and_leaves_its_last_page_on_the_page(
        runtime, recording_comms, monkeypatch) -> None:
    envelope = runtime.data.run_sql("SELECT * FROM sales ORDER BY sale_id", limit=5000)
    view = DataView.for_result(envelope, runtime=runtime, page_size=10, title="sales")
    updates = _displayed(monkeypatch, view)
    view.show_rows(2990)
    view.close()

    assert view._rows == [] and view._frame is None  # the result's rows are released
    assert view.comm is None and recording_comms[-1].sent[-1]["msg_type"] == "comm_close"
    [(bundle, kw)] = updates  # the output showing the grid now shows its static form
    assert kw["display_id"] == view._display_id
    assert set(bundle) == {"text/plain", "text/html"}  # no live view left to vanish
    assert bundle["text/plain"] == ("DataView(result: 3,000 rows × 8 columns, "
                                    "rows 2,991–3,000 of 3,000, closed)")
    html = bundle["text/html"]
    assert "<b>sales · closed</b>" in html and "closed: this view released its data" in html
    assert html.count("<tr>") == 11 and "<td>2991</td>" in html and "<td>3000</td>" in html
    with pytest.raises(RuntimeError, match="is closed: it released its data; create a new"):
        view.show_rows(0)
    view.close()  # closing twice is harmless
    assert len(updates) == 1


def test_closing_the_catalog_keeps_the_tables_and_the_selected_table(
        runtime, recording_comms, monkeypatch) -> None:
    view = DataView(runtime)
    view.select("inventory")
    updates = _displayed(monkeypatch, view)
    view.close()
    assert view._env is None
    [(bundle, _kw)] = updates
    assert bundle["text/plain"].endswith("table='inventory', closed)")
    assert "data catalog · 4 tables · closed" in bundle["text/html"]
    assert "<td>reorder_point</td>" in bundle["text/html"]
    with pytest.raises(RuntimeError, match="is closed"):
        view.search("sales")


def test_a_widget_never_displayed_just_closes(runtime, recording_comms, monkeypatch) -> None:
    updates = _displayed(monkeypatch, DataView(runtime))  # another widget, displayed
    view = DataView.for_result({"columns": ["a"], "rows": [[1]]})
    view.close()
    assert updates == [] and view.comm is None
    assert repr(view) == "DataView(result: 1 rows × 1 columns, rows 1–1 of 1, closed)"
