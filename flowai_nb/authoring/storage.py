"""Which stores back a runtime: kv (references, approvals, paused runs), plans, memory."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from ._base import SpecModel

__all__ = ["StorageFactorySpec", "StorageFactories", "STORE_KINDS"]

STORE_KINDS = ("memory", "sqlite", "duckdb", "postgres", "redis")
_CONFIG_KEYS = {"memory": set(), "sqlite": {"path"}, "duckdb": {"path"},
                "postgres": {"url"}, "redis": {"url"}}


class StorageFactorySpec(SpecModel):
    """Describes one store.

    ``StorageFactorySpec(kind="sqlite", config={"path": "kv.db"})``; the same
    for ``duckdb``; ``{"url": "postgresql://..."}`` for ``postgres``;
    ``{"url": "redis://..."}`` for ``redis``; ``memory`` takes no config.
    """

    kind: Literal["memory", "sqlite", "duckdb", "postgres", "redis"]
    config: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_flat(cls, data: Any) -> Any:
        # Accept the data-environment form {"kind": "sqlite", "path": "kv.db"} too.
        if isinstance(data, dict) and "kind" in data and "config" not in data and len(data) > 1:
            return {"kind": data["kind"], "config": {k: v for k, v in data.items() if k != "kind"}}
        return data

    @model_validator(mode="after")
    def _check_config(self) -> StorageFactorySpec:
        wanted = _CONFIG_KEYS[self.kind]
        given = set(self.config or {})
        if missing := wanted - given:
            raise ValueError(f"store kind {self.kind!r} needs config key(s) {sorted(missing)}")
        if unknown := given - wanted:
            raise ValueError(
                f"store kind {self.kind!r} does not take config key(s) {sorted(unknown)}; "
                f"expected {sorted(wanted) or 'no config'}"
            )
        return self


class StorageFactories(SpecModel):
    """Stores per purpose; an unset one falls back to ``kv``, then to in-process memory."""

    kv: StorageFactorySpec | None = None
    plans: StorageFactorySpec | None = None
    memory: StorageFactorySpec | None = None
