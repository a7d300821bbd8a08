"""Storage tests: real PostgreSQL/Redis fixtures plus a store of every kind."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # plain `pytest` does not put the project root on sys.path
    sys.path.insert(0, _ROOT)

from flowai_nb._clock import ManualClock, use_clock  # noqa: E402
from flowai_nb.storage import KeyValueStore, open_store  # noqa: E402
from tests.servers import *  # noqa: E402,F401,F403

_MARKS = {"postgres": pytest.mark.postgres, "redis": pytest.mark.redis}


def kinds(*names: str) -> list[Any]:
    """``pytest.param`` per store kind, with the server markers where one is needed."""
    return [pytest.param(n, id=n, marks=[_MARKS[n]] if n in _MARKS else []) for n in names]


ALL_KINDS = kinds("memory", "sqlite", "duckdb", "postgres", "redis")
PERSISTENT_KINDS = kinds("sqlite", "duckdb", "postgres", "redis")
MULTI_PROCESS_KINDS = kinds("sqlite", "postgres", "redis")


def descriptor_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """A descriptor for a fresh, empty store of ``kind`` (own file / database)."""
    if kind == "memory":
        return {"kind": "memory"}
    if kind in ("sqlite", "duckdb"):
        return {"kind": kind, "path": str(tmp_path / f"state/kv.{kind}")}
    url = request.getfixturevalue(f"fresh_{kind}_url")
    return {"kind": kind, "url": url}


@pytest.fixture(params=ALL_KINDS)
def descriptor(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Descriptor of a fresh store, once per kind."""
    return descriptor_for(request.param, request, tmp_path)


@pytest.fixture(params=PERSISTENT_KINDS)
def persistent_descriptor(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Descriptor of a fresh store of each kind that outlives its process."""
    return descriptor_for(request.param, request, tmp_path)


@pytest.fixture(params=MULTI_PROCESS_KINDS)
def shared_descriptor(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Descriptor of a fresh store of each kind several processes may open at once."""
    return descriptor_for(request.param, request, tmp_path)


@pytest.fixture
def store(descriptor: dict[str, Any]) -> Iterator[KeyValueStore]:
    """An open, empty store of each kind; closed after the test."""
    opened = open_store(descriptor)
    yield opened
    opened.close()


@pytest.fixture
def expire(descriptor: dict[str, Any]) -> Iterator[Callable[[], None]]:
    """``expire()`` moves time well past the 1 ms ttl of entries that must expire.

    In-process stores read flowai_nb's clock, so a manual clock is advanced (no
    sleeping); PostgreSQL and Redis expire by the server's clock, so those wait.
    """
    if descriptor["kind"] in ("postgres", "redis"):
        yield lambda: time.sleep(0.05)
        return
    clock = ManualClock()
    with use_clock(clock):
        yield lambda: clock.advance(50) and None
