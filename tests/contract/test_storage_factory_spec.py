"""Reference §StorageFactorySpec (lines 316-323), and the store-factory extension point."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

import flowai_nb as fa
from flowai_nb.storage.memory import MemoryStore

from ._reference import assert_model_matches, cites

TENANT = fa.define_tenant("acme", "1")


class CountingStore(MemoryStore):
    """A host-provided store: a memory store that counts writes."""

    kind = "counting"

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        self.writes = 0

    def put(self, key, value, *, ttl_ms=None):
        self.writes += 1
        super().put(key, value, ttl_ms=ttl_ms)


@cites(317, "StorageFactorySpec(*, kind: str, config: typing.Any | None = None)")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.StorageFactorySpec, 317)


@cites(323, "Host-provided store factory descriptor.")
def test_a_registered_factory_backs_its_kind() -> None:
    opened: list[CountingStore] = []

    def factory(config):
        opened.append(CountingStore(config))
        return opened[-1]

    fa.register_store_factory("counting", factory)
    descriptor = fa.StorageFactorySpec(kind="counting", config=["any", "shape"])
    spec = fa.define_runtime(TENANT, references=[fa.define_reference("note", {"t": str})],
                             storage_factories={"kv": descriptor})
    rt = fa.create_runtime(spec)
    asyncio.run(rt.create_reference("note", {"t": "hi"}))
    assert opened[0].config == ["any", "shape"] and opened[0].writes > 0


@cites(323, "Host-provided store factory descriptor.")
def test_an_unknown_kind_fails_at_create_runtime_naming_the_known_kinds() -> None:
    spec = fa.define_runtime(TENANT, storage_factories={"kv": {"kind": "mongo"}})
    with pytest.raises(ValueError, match=r"'mongo'.*'memory', 'sqlite', 'duckdb', 'postgres'"):
        fa.create_runtime(spec)


@cites(317, "kind: str, config: typing.Any | None = None")
def test_built_in_kinds_still_check_their_config() -> None:
    with pytest.raises(ValidationError, match="path"):
        fa.StorageFactorySpec(kind="sqlite", config={})
    with pytest.raises(ValidationError):
        fa.StorageFactorySpec(kind="")
    with pytest.raises(ValueError, match="built in"):
        fa.register_store_factory("sqlite", CountingStore)
