"""Which stores back a runtime: kv (references, approvals, paused runs), plans, memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from ._base import SpecModel
from .secrets import SECRET_INPUTS, hide_secrets

__all__ = ["StorageFactorySpec", "StorageFactories", "STORE_KINDS"]

STORE_KINDS = ("memory", "sqlite", "duckdb", "postgres", "redis")
_CONFIG_KEYS = {"memory": set(), "sqlite": {"path"}, "duckdb": {"path"},
                "postgres": {"url"}, "redis": {"url"}}


class StorageFactorySpec(SpecModel):
    """Host-provided store factory descriptor.

    Built-in kinds: ``StorageFactorySpec(kind="sqlite", config={"path": "kv.db"})``;
    the same for ``duckdb``; ``{"url": "postgresql://..."}`` for ``postgres``;
    ``{"url": "redis://..."}`` for ``redis``; ``memory`` takes no config. Their
    config keys are checked here. Any other kind names a factory the host
    registers with :func:`flowai_nb.register_store_factory`; its ``config`` is
    passed to that factory as is, and an unregistered kind is a clear error at
    ``create_runtime`` naming the known kinds::

        register_store_factory("dict", lambda config: MyDictStore(**(config or {})))
        StorageFactories(kv=StorageFactorySpec(kind="dict", config={"size": 10}))

    Passwords in ``config`` (a ``password`` key, a ``url`` with a password) are
    ``SecretStr`` values: dumps and reprs show ``**********``.

    Kept deviation: ``duckdb`` is a built-in kind besides the reference's ones.
    """

    model_config = SECRET_INPUTS

    kind: str = Field(min_length=1)
    config: Any | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_flat(cls, data: Any) -> Any:
        # Accept the data-environment form {"kind": "sqlite", "path": "kv.db"} too.
        if isinstance(data, Mapping) and "kind" in data and "config" not in data and len(data) > 1:
            return {"kind": data["kind"], "config": {k: v for k, v in data.items() if k != "kind"}}
        return data

    @field_validator("config")
    @classmethod
    def _secrets(cls, value: Any) -> Any:
        # Passwords (and URLs carrying one) become SecretStr: dumps and reprs hide them.
        return hide_secrets(value)

    @model_validator(mode="after")
    def _check_config(self) -> StorageFactorySpec:
        if self.kind not in _CONFIG_KEYS:
            return self
        if self.config is not None and not isinstance(self.config, Mapping):
            raise ValueError(f"store kind {self.kind!r} takes a mapping config; "
                             f"got {self.config!r}")
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
    """Store factory descriptions per purpose: ``kv`` backs references, pending
    approvals and paused runs; ``plans`` backs plans; ``memory`` backs
    conversation history. An unset one falls back to ``kv``, then to in-process memory."""

    kv: StorageFactorySpec | None = None
    plans: StorageFactorySpec | None = None
    memory: StorageFactorySpec | None = None
