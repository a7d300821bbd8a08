"""What is particular to one backend: DuckDB's one-process rule, server connections, reprs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowai_nb.storage import open_store

_ROOT = Path(__file__).resolve().parents[2]


def test_duckdb_file_held_by_another_process_gives_a_clear_error(tmp_path: Path) -> None:
    path = str(tmp_path / "kv.duckdb")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from flowai_nb.storage import open_store
            store = open_store({{"kind": "duckdb", "path": {path!r}}})
            print("open", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(_ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(Exception, match="one process per database file") as info:
            open_store({"kind": "duckdb", "path": path})
        assert path in str(info.value)
    finally:
        holder.communicate("", timeout=60)
    store = open_store({"kind": "duckdb", "path": path})  # free again once the holder exits
    store.put("k", 1)
    assert store.get("k") == 1
    store.close()


def test_duckdb_stores_on_one_file_list_each_other_s_keys(tmp_path: Path) -> None:
    path = str(tmp_path / "kv.duckdb")
    first = open_store({"kind": "duckdb", "path": path})
    second = open_store({"kind": "duckdb", "path": path})
    try:
        first.put("runs/1", 1)
        assert second.write([("put", "runs/2", 2), ("add", "runs/3", 3)]) is True
        assert second.write([("put", "runs/4", 4), ("add", "runs/1", 0)]) is False
        assert first.items("runs/") == [("runs/1", 1), ("runs/2", 2), ("runs/3", 3)]
        assert second.delete("runs/2") is True
        assert first.keys("runs/") == ["runs/1", "runs/3"]
    finally:
        first.close()
        second.close()
    reopened = open_store({"kind": "duckdb", "path": path})
    try:
        assert reopened.keys("runs/") == ["runs/1", "runs/3"]
    finally:
        reopened.close()


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_in_memory_databases(kind: str) -> None:
    first = open_store({"kind": kind, "path": ":memory:"})
    second = open_store({"kind": kind, "path": ":memory:"})
    first.put("k", 1)
    assert first.get("k") == 1
    assert second.get("k") is None
    assert ":memory:" in repr(first)
    first.close()
    second.close()


@pytest.mark.postgres
def test_postgres_repr_hides_the_password(fresh_postgres_url: str) -> None:
    url = fresh_postgres_url.replace("postgres@", "postgres:s3cret-pw@")  # trust auth ignores it
    store = open_store({"kind": "postgres", "url": url})
    try:
        store.put("k", 1)
        text = repr(store)
        assert "s3cret-pw" not in text
        assert "kind='postgres'" in text and "127.0.0.1" in text
    finally:
        store.close()


@pytest.mark.redis
def test_redis_repr_hides_the_password(fresh_redis_url: str) -> None:
    url = fresh_redis_url.replace("redis://", "redis://default:s3cret-pw@")  # nopass user
    store = open_store({"kind": "redis", "url": url})
    try:
        store.put("k", 1)
        text = repr(store)
        assert "s3cret-pw" not in text
        assert "kind='redis'" in text and "127.0.0.1" in text
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_store_reconnects_after_the_server_drops_it(fresh_postgres_url: str) -> None:
    import psycopg

    store = open_store({"kind": "postgres", "url": fresh_postgres_url})
    try:
        store.put("k", "before")
        dbname = fresh_postgres_url.rsplit("/", 1)[1]
        admin = fresh_postgres_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )
        with pytest.raises(psycopg.OperationalError):
            store.get("k")  # the call in flight when the connection died fails...
        assert store.get("k") == "before"  # ...and the next one reconnects
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kind", "url"),
    [pytest.param("postgres", "postgresql://u:s3cret-pw@127.0.0.1:1/x", marks=pytest.mark.postgres),
     pytest.param("redis", "redis://u:s3cret-pw@127.0.0.1:1/0", marks=pytest.mark.redis)],
)
def test_unreachable_server_error_names_the_store_without_password(kind: str, url: str) -> None:
    with pytest.raises(Exception, match=f"cannot connect to the {kind} store") as info:
        open_store({"kind": kind, "url": url})
    assert "s3cret-pw" not in str(info.value)
    assert "127.0.0.1:1" in str(info.value)
