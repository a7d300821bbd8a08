"""Agent SQL limits (SPEC §16): timeout with interrupt, row cap, byte cap, DuckDB memory limit
and threads, the true row count of large results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowai_nb.data import DataEnvironment, SQLError
from flowai_nb.data import environment as environment_module

from .conftest import FakeReferences


def _env(retail_db: Path, **sql: Any) -> DataEnvironment:
    refs = FakeReferences()
    return DataEnvironment({"tenant_id": "acme", "target_database_url": str(retail_db),
                            "sql": sql}, create_reference=refs.create,
                           resolve_reference=refs.resolve)


def test_defaults_are_safe(retail_db: Path) -> None:
    with _env(retail_db) as env:
        sql = env.config.sql
        assert (sql.timeout_s, sql.max_rows, sql.threads, sql.memory_limit) == (
            30.0, 100_000, 2, "1GB")
        assert env.timeout_s == 30.0 and env.max_bytes == 64 * 1024 * 1024
        memory, threads = env._con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
        assert memory.startswith("953") and threads == 2  # 1GB in MiB


@pytest.mark.parametrize("bad", [{"timeout_s": 0}, {"timeout_s": float("nan")},
                                 {"max_rows": 0}, {"max_bytes": 10}, {"threads": 0},
                                 {"memory_limit": "lots"}, {"memory_limit": "1GB'; SET x=1"}])
def test_bad_settings_name_the_setting(bad: dict, retail_db: Path) -> None:
    with pytest.raises(ValueError, match=f"sql.{next(iter(bad))}"):
        _env(retail_db, **bad)


def test_settings_reach_duckdb_and_cannot_be_changed_by_agent_sql(retail_db: Path) -> None:
    with _env(retail_db, memory_limit="256MB", threads=1) as env:
        memory, threads = env._con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
        assert memory == "244.1 MiB" and threads == 1
        with pytest.raises(ValueError, match="SELECT"):
            env.run_sql("SET memory_limit = '100GB'")


def test_a_runaway_query_is_interrupted_at_the_timeout(retail_db: Path) -> None:
    with _env(retail_db, timeout_s=0.5) as env:
        with pytest.raises(TimeoutError, match="cancelled after 0.5s"):
            env.run_sql("SELECT count(*) FROM range(1000000000000) a")
        assert env.run_sql("SELECT 1 AS one")["rows"] == [[1]]  # the connection still works


def test_a_query_over_the_memory_limit_is_a_clear_error(retail_db: Path) -> None:
    with _env(retail_db, memory_limit="32MB") as env:
        with pytest.raises(SQLError, match=r"memory_limit \(32MB\)"):
            env.run_sql("SELECT string_agg(i::VARCHAR, ',') FROM range(20000000) t(i)")


def test_row_cap_bounds_the_reference_and_the_true_count_is_reported(retail_db: Path) -> None:
    with _env(retail_db, max_rows=100) as env:
        env.inline_max_bytes = 50
        envelope = env.run_sql("SELECT sale_id FROM sales ORDER BY sale_id", limit=50)
        glimpse = envelope["glimpse"]
        assert (glimpse["rowCount"], glimpse["rowsReturned"], glimpse["truncated"]) == (
            3000, 100, True)
        assert len(env._resolve_reference(envelope)["rows"]) == 100
        with pytest.raises(ValueError, match="exceeds the maximum 100"):
            env.run_sql("SELECT 1", limit=101)


def test_byte_cap_keeps_the_rows_that_fit(retail_db: Path) -> None:
    with _env(retail_db, max_bytes=2048) as env:
        env.inline_max_bytes = 100
        envelope = env.run_sql("SELECT repeat('x', 100) AS t FROM range(100)")
        glimpse = envelope["glimpse"]
        assert glimpse["rowCount"] == 100 and glimpse["truncated"] is True
        assert 10 < glimpse["rowsReturned"] < 20  # ~108 bytes a row, 2 KiB kept
        with pytest.raises(SQLError, match="larger than the byte cap"):
            env.run_sql("SELECT repeat('x', 5000) AS t")


def test_when_counting_is_too_costly_the_count_says_more_than(
        retail_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment_module, "_COUNT_BUDGET_S", 0.0)
    with _env(retail_db) as env:
        result = env.run_sql("SELECT sale_id FROM sales ORDER BY sale_id", limit=5)
        assert result["rowCount"] == "more than 5" and result["truncated"] is True
