"""Reference §StorageFactories (lines 324-332)."""

from __future__ import annotations

import asyncio

import flowai_nb as fa

from ._reference import assert_model_matches, cites


@cites(325, "StorageFactories(*, kv: StorageFactorySpec | None = None, plans:")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.StorageFactories, 325)


@cites(332, "Store factory descriptions supplied by the host language facade.")
def test_a_persistent_kv_store_is_shared_by_two_runtimes(tmp_path) -> None:
    storage = fa.StorageFactories(kv={"kind": "sqlite", "path": str(tmp_path / "kv.db")})
    spec = fa.define_runtime(fa.define_tenant("acme", "1"), storage_factories=storage,
                             references=[fa.define_reference("note", {"t": str})])
    first, second = fa.create_runtime(spec), fa.create_runtime(spec)
    envelope = asyncio.run(first.create_reference("note", {"t": "kept"}))
    assert asyncio.run(second.resolve_reference(envelope)) == {"t": "kept"}
    first.close()
    second.close()
