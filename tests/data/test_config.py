"""DataEnvironmentConfig: both key spellings, exclusivity, kinds, URLs, tenant check."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flowai_nb.authoring import define_tenant
from flowai_nb.authoring.data_environment import (
    CatalogSearchConfig,
    DataEnvironmentConfig,
    DuckDBTarget,
    PostgresTarget,
    SqliteTarget,
    parse_target_url,
)

SNAKE = {
    "tenant_id": "acme", "workspace_id": "ws1", "kv": {"kind": "sqlite", "path": "kv.db"},
    "target_database": {"kind": "postgres", "url": "postgresql://u@127.0.0.1:5432/shop"},
    "target_database_schema": "sales",
    "catalog": {"kind": "inline", "entries": [{"table": "orders", "row_count": 3, "columns": [
        {"name": "id", "type": "INTEGER", "null_rate": 0.0}],
        "glossary": [{"term": "AOV", "definition": "average order value"}]}]},
    "catalog_search": {"index_path": "idx.duckdb", "rebuild_on_start": True,
                       "write_through": False},
}
CAMEL = {
    "tenantId": "acme", "workspaceId": "ws1", "kv": {"kind": "sqlite", "path": "kv.db"},
    "targetDatabase": {"kind": "postgres", "url": "postgresql://u@127.0.0.1:5432/shop"},
    "targetDatabaseSchema": "sales",
    "catalog": {"kind": "inline", "entries": [{"table": "orders", "rowCount": 3, "columns": [
        {"name": "id", "type": "INTEGER", "nullRate": 0.0}],
        "glossary": [{"term": "AOV", "definition": "average order value"}]}]},
    "catalogSearch": {"indexPath": "idx.duckdb", "rebuildOnStart": True, "writeThrough": False},
}


def test_snake_and_camel_keys_give_the_same_config() -> None:
    snake, camel = DataEnvironmentConfig(**SNAKE), DataEnvironmentConfig.model_validate(CAMEL)
    assert snake == camel
    assert snake.catalog_search == CatalogSearchConfig(
        index_path="idx.duckdb", rebuild_on_start=True, write_through=False)
    assert snake.catalog.entries[0].columns[0].null_rate == 0.0
    assert snake.kv.kind == "sqlite" and snake.kv.config == {"path": "kv.db"}


def test_wire_form_is_camel_case_and_round_trips() -> None:
    config = DataEnvironmentConfig(**SNAKE)
    wire = config.to_wire()
    assert {"tenantId", "workspaceId", "targetDatabase", "targetDatabaseSchema",
            "catalogSearch", "targetDatabaseUrl"} <= set(wire)
    assert wire["catalog"]["entries"][0]["rowCount"] == 3
    assert DataEnvironmentConfig.model_validate(wire) == config


def test_defaults() -> None:
    config = DataEnvironmentConfig(tenant_id="acme")
    assert (config.workspace_id, config.kv, config.target, config.catalog,
            config.catalog_search) == (None, None, None, None, None)
    assert CatalogSearchConfig() == CatalogSearchConfig(
        index_path=None, rebuild_on_start=False, write_through=True)


def test_target_database_and_url_are_exclusive() -> None:
    with pytest.raises(ValidationError, match="either target_database or target_database_url"):
        DataEnvironmentConfig(tenant_id="acme", target_database={"kind": "sqlite", "path": "a.db"},
                              target_database_url="sqlite:///b.db")


@pytest.mark.parametrize("field, kind, supported", [
    ("target_database", "mysql", "sqlite, postgres, duckdb"),
    ("catalog", "redis", "empty, inline, sqlite, postgres, duckdb"),
])
def test_unsupported_kinds_list_the_supported_ones(field: str, kind: str, supported: str) -> None:
    with pytest.raises(ValidationError) as info:
        DataEnvironmentConfig(tenant_id="acme", **{field: {"kind": kind, "path": "x"}})
    assert f"unsupported {field} kind {kind!r}" in str(info.value)
    assert supported in str(info.value)


def test_unknown_keys_are_rejected_and_every_key_is_optional() -> None:
    with pytest.raises(ValidationError, match="targetDatabse|target_databse"):
        DataEnvironmentConfig(tenant_id="acme", target_databse="x.db")
    assert DataEnvironmentConfig().tenant_id is None
    with pytest.raises(ValidationError, match="needs config key"):
        DataEnvironmentConfig(tenant_id="acme", kv={"kind": "sqlite"})


@pytest.mark.parametrize("url, expected", [
    ("sqlite:///retail.db", SqliteTarget(path="retail.db")),
    ("sqlite:////data/retail.db", SqliteTarget(path="/data/retail.db")),
    ("duckdb:///wh.duckdb", DuckDBTarget(path="wh.duckdb")),
    ("postgresql://user@127.0.0.1:5432/db",
     PostgresTarget(url="postgresql://user@127.0.0.1:5432/db")),
    ("postgres://user:pw@127.0.0.1/db", PostgresTarget(url="postgres://user:pw@127.0.0.1/db")),
    ("postgresql+psycopg://u@127.0.0.1/db", PostgresTarget(url="postgresql://u@127.0.0.1/db")),
    ("data/retail.db", SqliteTarget(path="data/retail.db")),
    ("retail.sqlite", SqliteTarget(path="retail.sqlite")),
    ("warehouse.duckdb", DuckDBTarget(path="warehouse.duckdb")),
])
def test_target_url_forms(url: str, expected: object) -> None:
    assert parse_target_url(url) == expected
    assert DataEnvironmentConfig(tenant_id="acme", target_database_url=url).target == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "notes.txt", "sqlite://", ""])
def test_bad_target_urls_are_refused_with_the_accepted_forms(url: str) -> None:
    with pytest.raises(ValidationError, match="target_database_url"):
        DataEnvironmentConfig(tenant_id="acme", target_database_url=url)


def test_check_tenant_accepts_the_runtime_tenant_and_refuses_others() -> None:
    config = DataEnvironmentConfig(tenant_id="acme")
    config.check_tenant("acme")
    config.check_tenant(define_tenant("acme", "1"))
    with pytest.raises(ValueError, match="'acme' does not match the runtime tenant 'globex@1'"):
        config.check_tenant(define_tenant("globex", "1"))
    with pytest.raises(ValueError, match="does not match"):
        config.check_tenant("globex")


def test_config_is_frozen() -> None:
    config = DataEnvironmentConfig(tenant_id="acme")
    with pytest.raises(ValidationError):
        config.tenant_id = "other"


@pytest.mark.parametrize("field", ["tenant_id", "workspace_id"])
def test_ids_with_a_slash_are_refused(field: str) -> None:
    values = {"tenant_id": "acme", field: "a/b"}
    with pytest.raises(ValueError, match="'a/b'"):
        DataEnvironmentConfig(**values)


def test_shorthand_url_is_validated_too() -> None:
    import flowai_nb as fa

    spec = fa.define_runtime(fa.define_tenant("acme", "1"),
                             agents=[fa.define_specialist("s", model="m", prompt="p")])
    with pytest.raises(ValueError, match="mysql"):
        fa.create_runtime(spec, data_environment=DataEnvironmentConfig(tenant_id="acme"),
                          target_database_url="mysql://x")


def test_url_paths_are_percent_decoded_and_scheme_typos_refused() -> None:
    from flowai_nb.authoring.data_environment import parse_target_url

    assert parse_target_url("sqlite:///my%20data.db").path == "my data.db"
    with pytest.raises(ValueError, match="'sqlite:x.db'"):
        parse_target_url("sqlite:x.db")
