"""run_sql: inline results, row limits, references for large results, DataFrames, timeouts."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from flowai_nb.data import DataEnvironment, SQLError
from flowai_nb.data.toolkits import TOOLKIT_HANDLERS

from .conftest import FakeReferences, make_ctx

run_sql = TOOLKIT_HANDLERS["sql"]["run_sql"]


def test_small_results_come_back_inline(ctx: SimpleNamespace) -> None:
    result = run_sql({"sql": "SELECT region, count(*) AS stores FROM stores "
                             "GROUP BY region ORDER BY region"}, ctx)
    assert result == {"columns": ["region", "stores"],
                      "rows": [["Center", 3], ["North", 2], ["South", 3]],
                      "rowCount": 3, "truncated": False}
    assert ctx.references.stored == {}


def test_values_are_json_ready(ctx: SimpleNamespace) -> None:
    result = run_sql({"sql": "SELECT sold_on, 1.5::DECIMAL(4,2) AS d, 'NaN'::DOUBLE AS nan, "
                             "TIMESTAMP '2024-01-02 03:04:05' AS ts, [1, 2] AS l "
                             "FROM sales ORDER BY sale_id LIMIT 1"}, ctx)
    row = result["rows"][0]
    assert row[1:] == [1.5, None, "2024-01-02T03:04:05", [1, 2]]
    assert isinstance(row[0], str) and len(row[0]) == 10  # ISO date
    json.dumps(result, allow_nan=False)


def test_limit_caps_rows_and_flags_truncation(ctx: SimpleNamespace) -> None:
    result = run_sql({"sql": "SELECT sale_id FROM sales ORDER BY sale_id", "limit": 5}, ctx)
    assert result["rows"] == [[1], [2], [3], [4], [5]]
    # rowCount is the query's true size, beside the five rows returned
    assert (result["rowCount"], result["truncated"]) == (3000, True)
    exact = run_sql({"sql": "SELECT * FROM stores", "limit": 8}, ctx)
    assert (exact["rowCount"], exact["truncated"]) == (8, False)


def test_default_limit_is_1000_and_the_true_row_count_is_reported(
        ctx: SimpleNamespace) -> None:
    result = run_sql({"sql": "SELECT sale_id FROM sales ORDER BY sale_id"}, ctx)
    assert (result["rowCount"], result["truncated"]) == (3000, True)
    assert len(result["rows"]) == 1000 and result["rows"][-1] == [1000]
    # too large to inline: the reference holds the full result (within the caps)
    envelope = run_sql({"sql": "SELECT * FROM sales ORDER BY sale_id"}, ctx)
    glimpse = envelope["glimpse"]
    assert (glimpse["rowCount"], glimpse["rowsReturned"], glimpse["truncated"]) == (
        3000, 3000, False)
    assert len(ctx.references.resolve(envelope)["rows"]) == 3000


@pytest.mark.parametrize("limit", [0, -1, "10", 2.5, True, 10**9])
def test_bad_limits_are_refused(limit: object, ctx: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match="limit"):
        run_sql({"sql": "SELECT 1", "limit": limit}, ctx)


def test_large_results_become_a_reference_with_a_glimpse(ctx: SimpleNamespace) -> None:
    envelope = run_sql({"sql": "SELECT * FROM sales ORDER BY sale_id", "limit": 2000}, ctx)
    assert envelope["kind"] == "sql_result" and envelope["id"]
    glimpse = envelope["glimpse"]
    assert set(glimpse) == {"columns", "rowCount", "rowsReturned", "rows", "truncated"}
    assert glimpse["truncated"] is False  # 3,000 rows, all within the caps
    assert glimpse["columns"][:2] == ["sale_id", "sold_on"]
    assert glimpse["rowCount"] == 3000 and len(glimpse["rows"]) == 10
    payload = ctx.references.resolve(envelope)
    assert set(payload) == {"columns", "rows"}
    assert len(payload["rows"]) == 3000 and payload["rows"][:10] == glimpse["rows"]
    json.dumps(payload, allow_nan=False)


def test_inline_size_limit_is_configurable(retail_db: Path) -> None:
    with DataEnvironment({"tenant_id": "acme", "target_database_url": str(retail_db)},
                         inline_max_bytes=50, glimpse_rows=2) as env:
        ctx = make_ctx(env)
        envelope = run_sql({"sql": "SELECT * FROM stores ORDER BY store_id"}, ctx)
        assert envelope["kind"] == "sql_result" and len(envelope["glimpse"]["rows"]) == 2
        assert run_sql({"sql": "SELECT 1 AS one"}, ctx)["rows"] == [[1]]


def test_frame_from_inline_result_reference_and_sql(retail_db: Path) -> None:
    refs = FakeReferences()
    with DataEnvironment({"tenant_id": "acme", "target_database_url": str(retail_db)},
                         resolve_reference=refs.resolve) as env:
        ctx = SimpleNamespace(data=env, references=refs)
        inline = run_sql({"sql": "SELECT store_id, city FROM stores ORDER BY 1"}, ctx)
        frame = env.frame(inline)
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.columns) == ["store_id", "city"] and len(frame) == 8
        envelope = run_sql({"sql": "SELECT * FROM sales", "limit": 3000}, ctx)
        big = env.frame(envelope)
        assert big.shape == (3000, 8)
        assert big["quantity"].sum() == env.frame("SELECT sum(quantity) AS q FROM sales")["q"][0]
        assert env.frame(f"{envelope['kind']}:{envelope['id']}").shape == (3000, 8)


def test_frame_runs_sql_through_the_guard(env: DataEnvironment) -> None:
    with pytest.raises(ValueError, match="SELECT"):
        env.frame("DELETE FROM sales")


def test_frame_of_a_reference_needs_a_resolver(env: DataEnvironment) -> None:
    with pytest.raises(ValueError, match="resolve_reference"):
        env.frame({"kind": "sql_result", "id": "abc", "glimpse": None})


def test_large_result_without_reference_store_says_what_to_do(env: DataEnvironment) -> None:
    with pytest.raises(RuntimeError, match="LIMIT"):
        env.run_sql("SELECT * FROM sales", 3000)


def test_bad_sql_raises_a_readable_error(ctx: SimpleNamespace) -> None:
    with pytest.raises(SQLError, match='"nope" not found'):
        run_sql({"sql": "SELECT nope FROM sales"}, ctx)
    with pytest.raises(ValueError, match="syntax error"):
        run_sql({"sql": "SELEC * FROM sales"}, ctx)
    # the connection is still usable afterwards
    assert run_sql({"sql": "SELECT count(*) FROM stores"}, ctx)["rows"] == [[8]]


def test_slow_queries_are_cancelled(retail_db: Path) -> None:
    with DataEnvironment({"tenant_id": "acme", "target_database_url": str(retail_db)},
                         timeout_s=0.2) as env:
        with pytest.raises(TimeoutError, match="cancelled after 0.2s"):
            env.run_sql("SELECT count(*) FROM range(1000000000000) a, range(1000) b "
                        "WHERE a.range * b.range % 7 = 3")
        assert env.run_sql("SELECT count(*) FROM stores")["rows"] == [[8]]


def test_catalog_views_are_queryable(ctx: SimpleNamespace) -> None:
    result = run_sql({"sql": "SELECT table_name, column_name FROM flowai_catalog.columns "
                             "WHERE null_rate > 0 ORDER BY 1, 2"}, ctx)
    assert result["rows"] == [["inventory", "updated_at"], ["sales", "customer_id"],
                              ["sales", "discount"]]
    tables = run_sql({"sql": "SELECT table_name, row_count FROM flowai_catalog.tables "
                             "ORDER BY 1"}, ctx)
    assert tables["rows"] == [["inventory", 480], ["products", 60], ["sales", 3000],
                              ["stores", 8]]


def test_glimpse_cells_are_clipped_so_the_model_never_gets_a_huge_glimpse(tmp_path) -> None:
    from flowai_nb.data.environment import DataEnvironment

    made = []

    def create(kind, value, glimpse=None):
        made.append(glimpse)
        return {"kind": kind, "id": "x", "glimpse": glimpse}

    env = DataEnvironment({"tenant_id": "acme"}, create_reference=create)
    try:
        result = env.run_sql("SELECT repeat('x', 100000) AS big FROM range(3)")
    finally:
        env.close()
    glimpse = made[0]
    assert result["kind"] == "sql_result" and glimpse["rowCount"] == 3
    assert all(len(row[0]) <= 201 for row in glimpse["rows"])
