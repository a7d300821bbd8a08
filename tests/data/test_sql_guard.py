"""Agent SQL cannot write, touch files, or leave the target: every attempt is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from flowai_nb.data import DataEnvironment, SQLRefused
from flowai_nb.data.sql_guard import check_sql
from flowai_nb.data.toolkits import TOOLKIT_HANDLERS

from .conftest import make_ctx

run_sql = TOOLKIT_HANDLERS["sql"]["run_sql"]

WRITES = [
    "INSERT INTO sales (sale_id, sold_on, store_id, product_id, quantity, unit_price) "
    "VALUES (99999, '2024-01-01', 1, 1, 1, 1.0)",
    "UPDATE products SET unit_price = 0",
    "DELETE FROM sales",
    "DROP TABLE sales",
    "CREATE TABLE loot AS SELECT * FROM sales",
    "CREATE VIEW v AS SELECT 1",
    "ALTER TABLE sales ADD COLUMN x INTEGER",
    "ATTACH 'other.db' AS other",
    "DETACH target",
    "COPY sales TO 'stolen.csv'",
    "COPY (SELECT * FROM sales) TO 'stolen.parquet' (FORMAT parquet)",
    "INSTALL httpfs",
    "LOAD fts",
    "PRAGMA database_list",
    "PRAGMA enable_profiling",
    "SET threads = 1",
    "RESET threads",
    "CALL pragma_version()",
    "EXPORT DATABASE 'dump'",
    "CHECKPOINT",
    "BEGIN TRANSACTION",
    "USE memory",
    "SELECT 1; DROP TABLE sales",
    "SELECT 1; SELECT 2",
    "/* harmless */ DROP TABLE sales",
    "-- just a comment\n DELETE FROM sales",
    "SELECT 1 /* ; */ ; DELETE FROM sales",
    "WITH x AS (SELECT 1) DELETE FROM sales",
    "WITH x AS (SELECT 1) INSERT INTO stores SELECT * FROM stores",
    "WITH x AS (SELECT 1) UPDATE stores SET name = 'x'",
    "PIVOT sales ON store_id USING sum(quantity)",
]

FILES_AND_ESCAPES = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('data.csv')",
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT * FROM read_json('x.json')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM 'data.parquet'",
    "SELECT read_text('/etc/passwd')",
    "SELECT content FROM read_blob('/etc/passwd')",
    "SELECT * FROM glob('*')",
    "SELECT * FROM query('DROP TABLE sales')",
    "SELECT * FROM query_table('sales')",
    "SELECT * FROM sqlite_scan('other.db', 't')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM pragma_database_list()",
    "SELECT getenv('HOME')",
    "SELECT * FROM sales WHERE store_id IN (SELECT 1 FROM read_csv('x.csv'))",
    "WITH t AS (SELECT * FROM read_parquet('x.parquet')) SELECT * FROM t",
    "SELECT * FROM memory.main.anything",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM sqlite_master",
    # CTEs named like system views must not smuggle the real view in
    "WITH duckdb_databases AS (SELECT * FROM duckdb_databases) SELECT path FROM duckdb_databases",
    "WITH sqlite_master AS (SELECT * FROM sqlite_master) SELECT * FROM sqlite_master",
    "SELECT * FROM pg_settings, (WITH pg_settings AS (SELECT 1) SELECT 1) x",
    "WITH duckdb_columns AS (SELECT 1 AS x) SELECT * FROM duckdb_columns",
    # DuckDB types these as SELECT; they are commands, not queries
    "SUMMARIZE sales",
    "DESCRIBE sales",
    "SHOW ALL TABLES",
    "SHOW DATABASES",
]


@pytest.fixture(scope="module")
def ctx(retail_db: Path) -> Iterator[SimpleNamespace]:
    """One environment for the whole module: every statement here must leave it unchanged."""
    env = DataEnvironment({"tenant_id": "acme", "target_database_url": str(retail_db)})
    yield make_ctx(env)
    env.close()


def _sales_count(ctx: SimpleNamespace) -> int:
    return run_sql({"sql": "SELECT count(*) AS n FROM sales"}, ctx)["rows"][0][0]


@pytest.mark.parametrize("sql", WRITES)
def test_writes_and_commands_are_refused(sql: str, ctx: SimpleNamespace, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = _sales_count(ctx)
    with pytest.raises(SQLRefused) as info:
        run_sql({"sql": sql}, ctx)
    assert "SELECT" in str(info.value)  # says what is allowed instead
    assert _sales_count(ctx) == before
    assert list(tmp_path.iterdir()) == []  # nothing written next to the process either


@pytest.mark.parametrize("sql", FILES_AND_ESCAPES)
def test_file_functions_and_other_databases_are_refused(sql: str, ctx: SimpleNamespace) -> None:
    with pytest.raises(SQLRefused, match="not allowed|not available|shadow|only SELECT"):
        run_sql({"sql": sql}, ctx)


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM sales",
    "  -- comment first\n SELECT count(*) FROM sales  ; ",
    "WITH s AS (SELECT * FROM sales) SELECT count(*) FROM s",
    "FROM sales SELECT count(*)",
    "WITH sales AS (SELECT * FROM sales) SELECT count(*) FROM sales",
    "/* a note */ (SELECT count(*) FROM sales)",
    "SELECT count(*) FROM target.sales",
    "SELECT count(*) FROM target.main.sales",
    "SELECT count(*) FROM (SELECT * FROM sales UNION ALL SELECT * FROM sales) WHERE false "
    "OR sale_id > 0 AND sale_id <= 1500",
])
def test_read_only_queries_run(sql: str, ctx: SimpleNamespace) -> None:
    assert run_sql({"sql": sql}, ctx)["rows"] == [[3000]]


def test_empty_and_non_text_sql_are_refused(ctx: SimpleNamespace) -> None:
    for bad in ("", "   ", None, 42):
        with pytest.raises(SQLRefused, match="non-empty SQL string"):
            run_sql({"sql": bad}, ctx)


def test_unknown_table_names_the_readable_ones(ctx: SimpleNamespace) -> None:
    with pytest.raises(SQLRefused, match="'orders' is not available.*products, sales, stores"):
        run_sql({"sql": "SELECT * FROM orders"}, ctx)


def test_the_attach_is_read_only_even_past_the_guard(env) -> None:
    """Second wall: a write sent straight to DuckDB, skipping the guard, still fails."""
    with pytest.raises(duckdb.Error, match="read-only"):
        env._con.execute("DELETE FROM target.main.sales")
    assert env.run_sql("SELECT count(*) FROM sales")["rows"] == [[3000]]


def test_files_are_out_of_reach_even_past_the_guard(env, tmp_path: Path) -> None:
    """Third wall: external access is disabled and locked on the connection."""
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(duckdb.Error, match="disabled"):
        env._con.execute(f"SELECT * FROM read_csv('{secret}')")
    with pytest.raises(duckdb.Error, match="locked"):
        env._con.execute("SET enable_external_access = true")


# -- CTE scoping and DuckDB's own statement types (issue #12 item 8) --------------------------

_SCOPE_ESCAPES = [
    # a CTE's name is visible only inside its own query, not in a sibling FROM item
    """SELECT * FROM (WITH "/tmp/x.csv" AS (SELECT 1) SELECT 1) a, '/tmp/x.csv' b""",
    # a CTE body cannot see a later CTE, nor itself unless recursive
    """WITH a AS (SELECT * FROM "/tmp/x.csv"), "/tmp/x.csv" AS (SELECT 1) SELECT * FROM a""",
    """WITH "/tmp/x.csv" AS (SELECT * FROM '/tmp/x.csv') SELECT * FROM "/tmp/x.csv" """,
    # a parenthesised WITH does not reach the other side of a UNION
    "(WITH stores AS (SELECT 1) SELECT * FROM stores) UNION ALL SELECT * FROM duckdb_settings",
]


@pytest.mark.parametrize("sql", _SCOPE_ESCAPES)
def test_cte_names_are_scoped_to_their_query(sql: str) -> None:
    con = duckdb.connect()
    with pytest.raises(SQLRefused, match="not available"):
        check_sql(sql, con, {("target", "main", "stores")})


@pytest.mark.parametrize("sql", [
    "WITH x AS (SELECT 1) SELECT * FROM x, (WITH y AS (SELECT 2) SELECT * FROM y, x) z",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
    "SELECT * FROM t",
    "WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b",
    "WITH q AS (SELECT 1) SELECT * FROM q UNION ALL SELECT * FROM q",
])
def test_ctes_used_in_scope_still_pass(sql: str) -> None:
    assert check_sql(sql, duckdb.connect(), {("target", "main", "stores")}) == set()


@pytest.mark.parametrize("sql", ["DESCRIBE stores", "SUMMARIZE stores", "SHOW TABLES",
                                 "SHOW ALL TABLES", "FROM (DESCRIBE stores)",
                                 "SELECT * FROM (SUMMARIZE SELECT 1)", "/* hi */ DESCRIBE stores"])
def test_describe_summarize_and_show_are_refused_from_the_syntax_tree(sql: str) -> None:
    with pytest.raises(SQLRefused, match="DESCRIBE, SUMMARIZE and SHOW"):
        check_sql(sql, duckdb.connect(), {("target", "main", "stores")})
