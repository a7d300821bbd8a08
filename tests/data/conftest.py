"""Data-environment tests: the sample retail database, a fake tool context, real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # plain `pytest` does not put the project root on sys.path
    sys.path.insert(0, _ROOT)

from flowai_nb.data import DataEnvironment, make_sample_sqlite  # noqa: E402
from tests.servers import fresh_postgres_url, postgres_url  # noqa: E402,F401


@pytest.fixture(scope="session")
def retail_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample retail SQLite database (read-only by convention: tests must not change it)."""
    return make_sample_sqlite(tmp_path_factory.mktemp("retail") / "retail.db", seed=0)


@pytest.fixture
def env(retail_db: Path) -> Iterator[DataEnvironment]:
    """A data environment over the retail database, catalog profiled on first use."""
    environment = DataEnvironment({"tenant_id": "acme", "target_database_url": str(retail_db)})
    yield environment
    environment.close()


class FakeReferences:
    """Dict-backed stand-in for the engine's ``ctx.references``."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}

    def create(self, kind: str, value: Any, glimpse: Any = None) -> dict[str, Any]:
        digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
        self.stored[digest] = {"kind": kind, "value": value}
        return {"kind": kind, "id": digest, "glimpse": glimpse, "createdAt": 0, "expiresAt": None}

    def resolve(self, envelope: Any) -> Any:
        ref_id = envelope["id"] if isinstance(envelope, dict) else envelope.split(":", 1)[1]
        return self.stored[ref_id]["value"]


def make_ctx(data: Any) -> SimpleNamespace:
    """A tool context with ``data`` and dict-backed ``references``."""
    return SimpleNamespace(data=data, references=FakeReferences())


@pytest.fixture
def ctx(env: DataEnvironment) -> SimpleNamespace:
    """A fake tool context over :func:`env`."""
    return make_ctx(env)
