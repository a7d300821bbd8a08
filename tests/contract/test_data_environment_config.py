"""Reference §DataEnvironmentConfig (lines 341-361)."""

from __future__ import annotations

import sqlite3

import pytest
from pydantic import ValidationError

import flowai_nb as fa

from ._reference import cites
from .conftest import spec


@cites(343, "All keys are optional and accept snake_case or camelCase spellings.")
def test_every_key_is_optional_and_both_spellings_work() -> None:
    assert fa.DataEnvironmentConfig.model_validate({}).tenant_id is None
    snake = fa.DataEnvironmentConfig(tenant_id="acme", workspace_id="w",
                                     target_database_url="sqlite:///a.db",
                                     target_database_schema="main")
    camel = fa.DataEnvironmentConfig.model_validate({
        "tenantId": "acme", "workspaceId": "w", "targetDatabaseUrl": "sqlite:///a.db",
        "targetDatabaseSchema": "main"})
    assert snake == camel


@cites(345, "tenant_id: Tenant id the environment is pinned to. When set it must")
def test_tenant_id_must_match_the_runtime_tenant_when_set(tmp_path) -> None:
    with pytest.raises(ValueError, match="globex"):
        fa.create_runtime(spec(), data_environment={"tenant_id": "globex"})
    rt = fa.create_runtime(spec(), data_environment={})
    assert rt.data_environment_config.tenant_id == "acme"  # pinned to the runtime tenant


@cites(348, "kv: KV store descriptor. Supported kinds: memory, sqlite,")
@pytest.mark.parametrize("kv", [{"kind": "memory"}, {"kind": "sqlite", "path": "KV"}])
def test_kv_descriptor(kv, tmp_path) -> None:
    kv = {k: (str(tmp_path / "kv.db") if v == "KV" else v) for k, v in kv.items()}
    rt = fa.create_runtime(spec(), data_environment={"kv": kv})
    assert rt._kv.inner.kind == kv["kind"]
    rt.close()


@cites(350, "target_database: Target database descriptor for agent data queries.")
def test_target_database_descriptor_and_url_are_exclusive(tmp_path) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE stock (sku TEXT)")
    rt = fa.create_runtime(spec(), data_environment={
        "target_database": {"kind": "sqlite", "path": str(path)}})
    assert [t["table"] for t in rt.data.list_tables()["tables"]] == ["stock"]
    rt.close()
    with pytest.raises(ValidationError, match="not both"):
        fa.DataEnvironmentConfig(target_database={"kind": "sqlite", "path": str(path)},
                                 target_database_url=f"sqlite:///{path}")
    with pytest.raises(ValidationError, match="oracle"):
        fa.DataEnvironmentConfig(target_database={"kind": "oracle"})


@cites(357, "catalog: Data catalog store descriptor. Supported kinds: empty,")
@pytest.mark.parametrize("catalog", [{"kind": "empty"}, {"kind": "inline", "entries": [
    {"table": "stock", "description": "units on hand"}]}])
def test_catalog_kinds(catalog) -> None:
    config = fa.DataEnvironmentConfig(catalog=catalog)
    assert config.catalog.kind == catalog["kind"]
    with pytest.raises(ValidationError, match="nosql"):
        fa.DataEnvironmentConfig(catalog={"kind": "nosql"})


@cites(359, "catalog_search: Catalog fuzzy-search index configuration with")
def test_catalog_search_keys() -> None:
    config = fa.DataEnvironmentConfig(catalog_search={
        "index_path": "idx.duckdb", "rebuildOnStart": True, "write_through": False})
    assert config.catalog_search == fa.CatalogSearchConfig(
        index_path="idx.duckdb", rebuild_on_start=True, write_through=False)
