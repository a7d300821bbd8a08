"""Catalog: profiling, kinds (empty/inline/sqlite/duckdb), JSON export/import, glossary."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from flowai_nb.authoring.data_environment import CatalogEntry, GlossaryTerm
from flowai_nb.data import (
    DataEnvironment,
    UnknownTable,
    export_catalog,
    import_catalog,
    profile_catalog,
)
from flowai_nb.data.toolkits import TOOLKIT_HANDLERS

from .conftest import make_ctx

catalog_tools = TOOLKIT_HANDLERS["catalog"]

ENTRIES = [
    {"table": "orders", "description": "Customer orders, one row per order", "rowCount": 120,
     "columns": [{"name": "order_id", "type": "INTEGER"},
                 {"name": "gross_amount", "type": "DOUBLE", "description": "total before tax"}],
     "glossary": [{"term": "GMV", "definition": "Gross merchandise value: sum of gross_amount",
                   "synonyms": ["gross merchandise value"]}]},
    {"table": "customers", "description": "People who bought something",
     "columns": [{"name": "customer_id", "type": "INTEGER"}],
     "glossary": [{"term": "Churned customer",
                   "definition": "No order in the last 90 days"}]},
]


def test_profile_catalog_describes_every_table(retail_db: Path) -> None:
    entries = {e.table: e for e in profile_catalog(f"sqlite:///{retail_db}")}
    assert sorted(entries) == ["inventory", "products", "sales", "stores"]
    sales = entries["sales"]
    assert sales.row_count == 3000
    assert [c.name for c in sales.columns] == ["sale_id", "sold_on", "store_id", "product_id",
                                               "quantity", "unit_price", "discount",
                                               "customer_id"]
    assert sales.column("sold_on").type == "DATE"
    assert sales.column("sale_id").null_rate == 0.0
    assert sales.column("sale_id").distinct_count == 3000
    assert 0.5 < sales.column("discount").null_rate < 1.0
    assert sales.column("discount").distinct_count == 3
    assert sorted(sales.column("discount").sample_values) == [0.05, 0.1, 0.2]
    assert 0 < sales.column("customer_id").null_rate < 0.5
    fks = {(tuple(f.columns), f.references_table, tuple(f.references_columns))
           for f in sales.foreign_keys}
    assert fks == {(("store_id",), "stores", ("store_id",)),
                   (("product_id",), "products", ("product_id",))}
    assert entries["stores"].foreign_keys == []
    regions = entries["stores"].column("region")
    assert regions.distinct_count == 3 and set(regions.sample_values) == {"North", "South",
                                                                          "Center"}


def test_profile_catalog_accepts_an_environment_and_a_table_subset(env: DataEnvironment) -> None:
    entries = profile_catalog(env, tables=["stores"], sample_size=2)
    assert [e.table for e in entries] == ["stores"]
    assert all(len(c.sample_values) <= 2 for c in entries[0].columns)
    with pytest.raises(UnknownTable, match="'store'.*did you mean 'stores'"):
        profile_catalog(env, tables=["store"])


def test_without_a_catalog_the_target_is_profiled_on_first_use(ctx: SimpleNamespace) -> None:
    tables = catalog_tools["list_tables"]({}, ctx)["tables"]
    assert [(t["table"], t["rowCount"]) for t in tables] == [
        ("inventory", 480), ("products", 60), ("sales", 3000), ("stores", 8)]
    described = catalog_tools["describe_table"]({"table": "inventory"}, ctx)
    assert described["rowCount"] == 480
    assert {c["name"]: c["nullRate"] > 0 for c in described["columns"]}["updated_at"] is True
    assert {f["referencesTable"] for f in described["foreignKeys"]} == {"stores", "products"}


def test_unknown_tables_raise_with_a_suggestion(ctx: SimpleNamespace) -> None:
    with pytest.raises(UnknownTable, match="unknown table 'sale' \\(did you mean 'sales'\\?\\)"):
        catalog_tools["describe_table"]({"table": "sale"}, ctx)
    with pytest.raises(ValueError, match="table must be a non-empty string"):
        catalog_tools["describe_table"]({}, ctx)


def test_inline_catalog_and_glossary(retail_db: Path) -> None:
    env = DataEnvironment({"tenant_id": "acme", "catalog": {"kind": "inline", "entries": ENTRIES}})
    ctx = make_ctx(env)
    tables = catalog_tools["list_tables"]({}, ctx)["tables"]
    assert [t["table"] for t in tables] == ["customers", "orders"]
    assert tables[1]["description"] == "Customer orders, one row per order"
    assert catalog_tools["describe_table"]({"table": "ORDERS"}, ctx)["rowCount"] == 120
    exact = catalog_tools["lookup_glossary"]({"term": "gmv"}, ctx)["matches"]
    assert [(m["term"], m["table"]) for m in exact] == [("GMV", "orders")]
    by_synonym = catalog_tools["lookup_glossary"]({"term": "Gross Merchandise Value"}, ctx)
    assert [m["term"] for m in by_synonym["matches"]] == ["GMV"]
    partial = catalog_tools["lookup_glossary"]({"term": "churned"}, ctx)["matches"]
    assert [m["definition"] for m in partial] == ["No order in the last 90 days"]
    assert catalog_tools["lookup_glossary"]({"term": "EBITDA"}, ctx)["matches"] == []
    env.close()


def test_inline_catalog_beside_a_target_lists_both(retail_db: Path) -> None:
    with DataEnvironment({"tenant_id": "acme", "target_database_url": str(retail_db),
                          "catalog": {"kind": "inline", "entries": [
                              {"table": "sales", "description": "One row per sale"}]}}) as env:
        tables = {t["table"]: t for t in env.list_tables()["tables"]}
        assert sorted(tables) == ["inventory", "products", "sales", "stores"]
        assert tables["sales"]["description"] == "One row per sale"
        assert tables["stores"]["description"] is None
        # not in the inline catalog: described live from the target
        assert [c["name"] for c in env.describe_table("stores")["columns"]][:2] == [
            "store_id", "name"]


def test_empty_catalog_stays_empty_until_entries_are_added() -> None:
    with DataEnvironment({"tenant_id": "acme", "catalog": "empty"}) as env:
        assert env.list_tables() == {"tables": []}
        env.catalog.add({"table": "kpis", "description": "Weekly KPIs",
                         "glossary": [{"term": "WAU", "definition": "weekly active users"}]})
        assert [t["table"] for t in env.list_tables()["tables"]] == ["kpis"]
        assert env.lookup_glossary("wau")["matches"][0]["table"] == "kpis"


def test_export_import_round_trip(tmp_path: Path, retail_db: Path) -> None:
    entries = profile_catalog(retail_db)
    text = export_catalog(entries, tmp_path / "catalog.json")
    assert json.loads((tmp_path / "catalog.json").read_text()) == json.loads(text)
    assert json.loads(text)["entries"][0]["rowCount"] == entries[0].row_count  # camelCase
    assert import_catalog(text) == entries
    assert import_catalog(tmp_path / "catalog.json") == entries
    assert import_catalog(str(tmp_path / "catalog.json")) == entries
    assert import_catalog(json.loads(text)["entries"]) == entries


def test_import_rejects_what_is_not_a_catalog() -> None:
    with pytest.raises(ValueError, match="'entries' list"):
        import_catalog('{"tables": []}')
    with pytest.raises(ValidationError):
        import_catalog('[{"columns": []}]')


def test_environment_catalog_export_and_import(tmp_path: Path) -> None:
    with DataEnvironment({"tenant_id": "acme", "catalog": {"kind": "empty"}}) as env:
        env.catalog.import_json(json.dumps({"entries": ENTRIES}))
        exported = env.catalog.export_json(tmp_path / "out.json")
    assert [e.table for e in import_catalog(exported)] == ["customers", "orders"]


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_stored_catalog_persists_profiles_and_edits(kind: str, tmp_path: Path,
                                                    retail_db: Path) -> None:
    path = str(tmp_path / f"catalog.{kind}")
    config = {"tenant_id": "acme", "target_database_url": str(retail_db),
              "catalog": {"kind": kind, "path": path}}
    with DataEnvironment(config) as env:
        assert len(env.list_tables()["tables"]) == 4  # profiled into the empty store
        env.catalog.add(CatalogEntry(table="stores", description="Physical shops",
                                     glossary=[GlossaryTerm(term="Flagship",
                                                            definition="the biggest store")]))
    with DataEnvironment(config) as env:
        env.catalog._profiler = None  # entries must come from the store, not a new profile
        assert env.catalog.get("sales").row_count == 3000
        assert env.describe_table("stores")["description"] == "Physical shops"
        assert env.lookup_glossary("flagship")["matches"][0]["table"] == "stores"
    other = dict(config, tenant_id="globex")
    with DataEnvironment(other) as env:  # another tenant never sees acme's edits
        assert env.describe_table("stores")["description"] is None


def test_workspaces_are_separate_scopes_in_one_store(tmp_path: Path) -> None:
    path = str(tmp_path / "catalog.db")
    base = {"tenant_id": "acme", "catalog": {"kind": "sqlite", "path": path}}
    with DataEnvironment(dict(base, workspace_id="a")) as env:
        env.catalog.add({"table": "only_in_a"})
    with DataEnvironment(dict(base, workspace_id="b")) as env:
        assert env.list_tables() == {"tables": []}
    with DataEnvironment(dict(base, workspace_id="a")) as env:
        assert [t["table"] for t in env.list_tables()["tables"]] == ["only_in_a"]
