"""open_store: descriptor forms, clear errors for bad ones, lazy and optional drivers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from flowai_nb.authoring.storage import StorageFactorySpec
from flowai_nb.storage import SUPPORTED_KINDS, KeyValueStore, ScopedStore, open_store


def test_supported_kinds() -> None:
    assert set(SUPPORTED_KINDS) == {"memory", "sqlite", "duckdb", "postgres", "redis"}


@pytest.mark.parametrize(
    "make",
    [
        lambda p: {"kind": "sqlite", "path": p},
        lambda p: {"kind": "sqlite", "config": {"path": p}},
        lambda p: StorageFactorySpec(kind="sqlite", config={"path": p}),
        lambda p: StorageFactorySpec.model_validate({"kind": "sqlite", "path": p}),
        lambda p: SimpleNamespace(kind="sqlite", config={"path": Path(p)}),
    ],
    ids=["flat", "nested", "spec", "spec-flat", "duck-typed"],
)
def test_descriptor_forms_open_the_same_file(tmp_path: Path, make: Any) -> None:
    path = str(tmp_path / "kv.db")
    with_data = open_store({"kind": "sqlite", "path": path})
    with_data.put("k", "v")
    with_data.close()
    store = open_store(make(path))
    try:
        assert store.kind == "sqlite"
        assert store.get("k") == "v"
    finally:
        store.close()


@pytest.mark.parametrize(
    "descriptor",
    [{"kind": "memory"}, {"kind": "memory", "config": None}, {"kind": "memory", "config": {}},
     StorageFactorySpec(kind="memory")],
)
def test_memory_needs_no_config(descriptor: Any) -> None:
    store = open_store(descriptor)
    store.put("k", 1)
    assert store.get("k") == 1
    assert isinstance(store, KeyValueStore)
    assert isinstance(store.scoped("t"), ScopedStore)


def test_memory_stores_are_independent() -> None:
    first, second = open_store({"kind": "memory"}), open_store({"kind": "memory"})
    first.put("k", 1)
    assert second.get("k") is None


@pytest.mark.parametrize(
    ("descriptor", "error", "words"),
    [
        ({"kind": "mongo", "url": "x"}, ValueError, ["'mongo'", "memory", "sqlite", "redis"]),
        ({"kind": "SQLite", "path": "x"}, ValueError, ["'SQLite'", "sqlite"]),
        ({"kind": "sqlite"}, ValueError, ["'sqlite'", "path"]),
        ({"kind": "postgres"}, ValueError, ["'postgres'", "url"]),
        ({"kind": "sqlite", "path": "x", "table": "t"}, ValueError, ["table"]),
        ({"kind": "sqlite", "url": "x"}, ValueError, ["url", "path"]),
        ({"kind": "memory", "path": "x"}, ValueError, ["path", "no config"]),
        ({"kind": "sqlite", "config": {"path": "x"}, "path": "y"}, ValueError, ["config", "path"]),
        ({"path": "x"}, ValueError, ["kind"]),
        ({"kind": "sqlite", "path": ""}, ValueError, ["path"]),
        ({"kind": "sqlite", "path": 3}, TypeError, ["path", "int"]),
        ({"kind": "sqlite", "config": ["path"]}, TypeError, ["config", "list"]),
        ({"kind": "postgres", "url": "mysql://h/db"}, ValueError, ["postgresql://", "mysql://"]),
        ({"kind": "redis", "url": "http://h:6379"}, ValueError, ["redis://", "http://"]),
        ({"kind": "redis", "url": 6379}, TypeError, ["url", "int"]),
        ("sqlite:kv.db", TypeError, ["str", "mapping"]),
        (None, TypeError, ["NoneType"]),
    ],
)
def test_bad_descriptors_raise_clear_errors(
    descriptor: Any, error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as info:
        open_store(descriptor)
    for word in words:
        assert word in str(info.value)


def test_bad_url_error_does_not_show_the_password() -> None:
    with pytest.raises(ValueError) as info:
        open_store({"kind": "postgres", "url": "mysql://admin:hunter2@db.example/x"})
    assert "hunter2" not in str(info.value)
    assert "admin" in str(info.value)


@pytest.mark.parametrize(
    ("kind", "module", "driver", "extra"),
    [("postgres", "postgres", "psycopg", "flowai_nb[postgres]"),
     ("redis", "redis", "redis", "flowai_nb[redis]")],
)
def test_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, kind: str, module: str, driver: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, driver, None)  # makes `import driver` fail
    monkeypatch.delitem(sys.modules, f"flowai_nb.storage.{module}", raising=False)
    url = {"postgres": "postgresql://127.0.0.1:1/x", "redis": "redis://127.0.0.1:1/0"}[kind]
    with pytest.raises(ImportError, match=f'pip install "{extra}"'.replace("[", r"\[")):
        open_store({"kind": kind, "url": url})


def test_importing_storage_does_not_import_drivers() -> None:
    code = textwrap.dedent("""
        import sys
        import flowai_nb.storage as storage
        storage.open_store({"kind": "memory"}).put("k", 1)
        print(sorted(m for m in ("duckdb", "psycopg", "redis") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
