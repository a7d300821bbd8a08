"""Target databases: sqlite, duckdb and postgres attached read-only; schemas; URL forms."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest

from flowai_nb.authoring import define_tenant
from flowai_nb.data import DataEnvironment, SQLRefused, profile_catalog


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A DuckDB file with two schemas and a declared foreign key."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE TABLE main.notes (id INTEGER);
        CREATE SCHEMA mart;
        CREATE TABLE mart.regions (region_id INTEGER PRIMARY KEY, name VARCHAR);
        CREATE TABLE mart.revenue (day DATE, region_id INTEGER REFERENCES mart.regions(region_id),
                                   amount DECIMAL(10, 2));
        INSERT INTO mart.regions VALUES (1, 'North'), (2, 'South');
        INSERT INTO mart.revenue VALUES ('2024-01-01', 1, 10.50), ('2024-01-02', 2, NULL),
                                        ('2024-01-03', 1, 4.25);
    """)
    con.close()
    return path


@pytest.mark.parametrize("form", ["plain", "sqlite_url"])
def test_sqlite_target_url_forms(form: str, retail_db: Path) -> None:
    url = str(retail_db) if form == "plain" else f"sqlite:///{retail_db}"
    with DataEnvironment({"tenant_id": "acme", "target_database_url": url}) as env:
        assert env.run_sql("SELECT count(*) FROM products")["rows"] == [[60]]


def test_sqlite_target_descriptor(retail_db: Path) -> None:
    config = {"tenantId": "acme", "targetDatabase": {"kind": "sqlite", "path": str(retail_db)}}
    with DataEnvironment.from_config(config) as env:
        assert env.run_sql("SELECT count(*) FROM stores")["rows"] == [[8]]
        assert "sqlite" in repr(env) and "acme" in repr(env)


def test_duckdb_target_honours_the_schema(warehouse: Path) -> None:
    config = {"tenant_id": "acme", "target_database_url": f"duckdb:///{warehouse}",
              "target_database_schema": "mart"}
    with DataEnvironment(config) as env:
        assert [t["table"] for t in env.list_tables()["tables"]] == ["regions", "revenue"]
        result = env.run_sql("SELECT r.name, sum(amount) AS total FROM revenue JOIN regions r "
                             "USING (region_id) GROUP BY 1 ORDER BY 1")
        assert result["rows"] == [["North", 14.75], ["South", None]]
        revenue = env.describe_table("revenue")
        assert revenue["foreignKeys"] == [{"columns": ["region_id"], "referencesTable": "regions",
                                           "referencesColumns": ["region_id"]}]
        assert {c["name"]: c["nullRate"] for c in revenue["columns"]}["amount"] == pytest.approx(
            1 / 3, abs=1e-3)
        with pytest.raises(SQLRefused, match="'notes' is not available"):
            env.run_sql("SELECT * FROM notes")
        with pytest.raises(SQLRefused):
            env.run_sql("INSERT INTO regions VALUES (3, 'East')")
    with DataEnvironment({"tenant_id": "acme", "target_database_url": str(warehouse)}) as env:
        assert [t["table"] for t in env.list_tables()["tables"]] == ["notes"]


def test_duckdb_target_file_is_not_modified(warehouse: Path) -> None:
    before = warehouse.read_bytes()
    with DataEnvironment({"tenant_id": "acme", "target_database_url": str(warehouse),
                          "target_database_schema": "mart"}) as env:
        env.list_tables()
        with pytest.raises(duckdb.Error, match="read-only"):
            env._con.execute("DELETE FROM target.mart.revenue")
    assert warehouse.read_bytes() == before


def test_unknown_schema_names_the_existing_ones(warehouse: Path) -> None:
    with pytest.raises(ValueError, match="no schema 'sales'.*'main', 'mart'"):
        DataEnvironment({"tenant_id": "acme", "target_database_url": str(warehouse),
                         "target_database_schema": "sales"})


def test_missing_file_is_reported_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(FileNotFoundError, match="nope.db"):
        DataEnvironment({"tenant_id": "acme", "target_database_url": str(missing)})
    assert not missing.exists()


def test_tenant_mismatch_is_refused(retail_db: Path) -> None:
    config = {"tenant_id": "acme", "target_database_url": str(retail_db)}
    with pytest.raises(ValueError, match="'acme' does not match the runtime tenant 'globex@1'"):
        DataEnvironment.from_config(config, tenant=define_tenant("globex", "1"))
    with DataEnvironment.from_config(config, tenant=define_tenant("acme", "1")) as env:
        assert env.config.tenant_id == "acme"


def test_config_type_errors() -> None:
    with pytest.raises(TypeError, match="DataEnvironmentConfig or a mapping"):
        DataEnvironment("sqlite:///x.db")  # type: ignore[arg-type]


def test_sqlite_target_sees_changes_made_by_others(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (id INTEGER)")
    with DataEnvironment({"tenant_id": "acme", "target_database_url": str(path)}) as env:
        assert env.run_sql("SELECT count(*) FROM events")["rows"] == [[0]]
        with sqlite3.connect(path) as db:
            db.execute("INSERT INTO events VALUES (1), (2)")
        db.close()
        assert env.run_sql("SELECT count(*) FROM events")["rows"] == [[2]]


# -- PostgreSQL (real server on 127.0.0.1) ---------------------------------------------------

_PG_SETUP = """
CREATE SCHEMA shop;
CREATE TABLE shop.items (item_id INTEGER PRIMARY KEY, name TEXT NOT NULL, price NUMERIC(8, 2));
CREATE TABLE shop.orders (order_id INTEGER PRIMARY KEY,
                          item_id INTEGER REFERENCES shop.items(item_id), qty INTEGER);
INSERT INTO shop.items VALUES (1, 'pen', 1.50), (2, 'ink', NULL);
INSERT INTO shop.orders VALUES (10, 1, 3), (11, 1, 1), (12, 2, 5);
CREATE TABLE public.secrets (token TEXT);
INSERT INTO public.secrets VALUES ('hunter2');
"""


@pytest.mark.postgres
def test_postgres_target(fresh_postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:
        conn.execute(_PG_SETUP)
    pg_url = fresh_postgres_url.replace("postgresql://", "postgres://", 1)
    config = {"tenant_id": "acme", "target_database_url": pg_url,
              "target_database_schema": "shop"}
    with DataEnvironment(config) as env:
        assert [t["table"] for t in env.list_tables()["tables"]] == ["items", "orders"]
        result = env.run_sql("SELECT i.name, sum(o.qty) AS qty FROM orders o JOIN items i "
                             "USING (item_id) GROUP BY 1 ORDER BY 1")
        assert result["rows"] == [["ink", 5], ["pen", 4]]
        orders = env.describe_table("orders")
        assert orders["rowCount"] == 3
        assert orders["foreignKeys"] == [{"columns": ["item_id"], "referencesTable": "items",
                                          "referencesColumns": ["item_id"]}]
        assert env.search_catalog("qty")["results"][0]["table"] == "orders"
        for sql in ("DELETE FROM orders", "SELECT * FROM public.secrets",
                    "SELECT * FROM postgres_query('target', 'DELETE FROM shop.orders')"):
            with pytest.raises(SQLRefused):
                env.run_sql(sql)
        with pytest.raises(duckdb.Error, match="read-only"):  # past the guard: still read-only
            env._con.execute("DELETE FROM target.shop.orders")
    with psycopg.connect(fresh_postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM shop.orders").fetchone() == (3,)
    items = {e.table: e for e in profile_catalog(fresh_postgres_url, schema="shop")}["items"]
    assert items.column("price").null_rate == 0.5 and items.row_count == 2


@pytest.mark.postgres
def test_postgres_catalog_store(fresh_postgres_url: str, retail_db: Path) -> None:
    config = {"tenant_id": "acme", "target_database_url": str(retail_db),
              "catalog": {"kind": "postgres", "url": fresh_postgres_url}}
    with DataEnvironment(config) as env:
        env.catalog.add({"table": "stores", "description": "Physical shops"})
        assert len(env.list_tables()["tables"]) == 4
    with DataEnvironment(config) as env:
        env.catalog._profiler = None  # entries must come from the postgres store
        assert env.describe_table("stores")["description"] == "Physical shops"
        assert env.catalog.get("sales").row_count == 3000
