"""Hostile agent SQL over every target kind: nothing is written, nothing outside the target's
exposed tables is read (SPEC §16). Target files are hashed before and after; the PostgreSQL
target's rows and tables are compared before and after."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from flowai_nb.data import DataEnvironment
from flowai_nb.data.toolkits import TOOLKIT_HANDLERS
from tests.data.test_sql_guard import FILES_AND_ESCAPES, WRITES

from .conftest import file_hash, postgres_rows

run_sql = TOOLKIT_HANDLERS["sql"]["run_sql"]

# Beyond the guard's own test lists: scanner functions, other schemas and catalogs,
# writes hidden in every corner of a query, settings, and CTE scoping tricks.
MORE = [
    "SELECT * FROM postgres_query('target', 'DROP TABLE orders')",
    "CALL postgres_execute('target', 'DROP TABLE orders')",
    "SELECT * FROM postgres_scan('dbname=x', 'public', 'orders')",
    "SELECT * FROM sqlite_scan('x.db', 'sales')",
    "SELECT * FROM target.private.keys",
    "SELECT * FROM private.keys",
    "SELECT * FROM target.information_schema.tables",
    "SELECT * FROM target.pg_catalog.pg_authid",
    "SELECT * FROM system.main.duckdb_settings()",
    "SELECT * FROM temp.main.anything",
    "SELECT current_setting('memory_limit')",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM parquet_metadata('x.parquet')",
    "SELECT * FROM iceberg_scan('x')",
    "SELECT * FROM (WITH \"/etc/passwd\" AS (SELECT 1) SELECT 1) a, '/etc/passwd' b",
    "WITH a AS (SELECT * FROM '/etc/hostname'), \"/etc/hostname\" AS (SELECT 1) "
    "SELECT * FROM a",
    "SELECT * FROM (SUMMARIZE SELECT 1)",
    "FROM (DESCRIBE SELECT 1)",
    "EXPLAIN ANALYZE SELECT 1",
    "EXPLAIN SELECT 1",
    "VACUUM",
    "ANALYZE",
    "CREATE SECRET s (TYPE s3)",
    "CREATE MACRO m() AS 1",
    "CREATE SEQUENCE s",
    "CREATE TEMP TABLE t AS SELECT 1",
    "INSERT INTO memory.flowai_catalog.tables VALUES ('x', 'y', 1, 1)",
    "UPDATE memory.flowai_catalog.glossary SET term = 'x'",
    "PREPARE p AS DELETE FROM orders",
    "EXECUTE p",
    "DEALLOCATE p",
    "COMMIT",
    "ROLLBACK",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET ALL",
    "SELECT 1 UNION ALL (SELECT * FROM read_csv('/etc/passwd'))",
    "SELECT (SELECT count(*) FROM glob('/*'))",
    "SELECT * FROM range(3) r, LATERAL (SELECT * FROM read_text('/etc/passwd'))",
    "SELECT list_transform([1], x -> getenv('HOME'))",
]

ALL_STATEMENTS = WRITES + FILES_AND_ESCAPES + MORE
assert len(ALL_STATEMENTS) >= 100


def _attack(url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Run every statement as the agent's ``run_sql``; return the ones that did not fail."""
    monkeypatch.chdir(workdir)
    env = DataEnvironment({"tenant_id": "acme", "target_database_url": url})
    ctx = SimpleNamespace(data=env, references=None)
    succeeded = []
    try:
        for sql in ALL_STATEMENTS:
            try:
                result = run_sql({"sql": sql}, ctx)
            except (ValueError, TimeoutError, RuntimeError, LookupError):
                continue
            succeeded.append((sql, result))
    finally:
        env.close()
    return succeeded


def _check(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           snapshot: Callable[[], Any]) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    before = snapshot()
    succeeded = _attack(url, workdir, monkeypatch)
    assert succeeded == []
    assert snapshot() == before
    assert sorted(os.listdir(workdir)) == []  # no file written next to the process


def test_hostile_sql_over_a_sqlite_target(sqlite_target: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _check(f"sqlite:///{sqlite_target}", tmp_path, monkeypatch,
           lambda: (file_hash(sqlite_target), sorted(os.listdir(sqlite_target.parent))))


def test_hostile_sql_over_a_duckdb_target(duckdb_target: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _check(f"duckdb:///{duckdb_target}", tmp_path, monkeypatch,
           lambda: (file_hash(duckdb_target), sorted(os.listdir(duckdb_target.parent))))


@pytest.mark.postgres
def test_hostile_sql_over_a_postgres_target(postgres_target: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _check(postgres_target, tmp_path, monkeypatch, lambda: postgres_rows(postgres_target))


@pytest.mark.postgres
def test_the_postgres_target_is_still_readable_after_the_attack(postgres_target: str) -> None:
    with DataEnvironment({"tenant_id": "acme", "target_database_url": postgres_target}) as env:
        assert env.run_sql("SELECT count(*) AS n FROM orders")["rows"] == [[50]]
        # the exposed schema only: the private schema is not a readable table
        assert [t["table"] for t in env.list_tables()["tables"]] == ["orders"]
