"""Catalog search: BM25 ranking, persisted index, rebuild_on_start, write_through, scopes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowai_nb.data import DataEnvironment
from flowai_nb.data.toolkits import TOOLKIT_HANDLERS

from .conftest import make_ctx

search_catalog = TOOLKIT_HANDLERS["catalog"]["search_catalog"]

SHOP = [
    {"table": "customers", "description": "Registered shoppers and their contact details",
     "columns": [{"name": "customer_id"}, {"name": "email"}, {"name": "signup_date"}]},
    {"table": "orders", "description": "One row per checkout",
     "columns": [{"name": "order_id"}, {"name": "customer_id"}, {"name": "order_total"},
                 {"name": "placed_at"}]},
    {"table": "shipments", "description": "Parcels sent for each order",
     "columns": [{"name": "shipment_id"}, {"name": "order_id"}, {"name": "carrier"},
                 {"name": "tracking_number"}]},
    {"table": "products", "description": "Things we sell, such as shoes and hats",
     "columns": [{"name": "sku"}, {"name": "title"}, {"name": "price"}],
     "glossary": [{"term": "SKU", "definition": "stock keeping unit"}]},
]


def _env(entries: list[dict[str, Any]] = SHOP, **search: Any) -> DataEnvironment:
    return DataEnvironment({"tenant_id": "acme", "catalog": {"kind": "inline", "entries": entries},
                            "catalog_search": search})


def _tables(env: DataEnvironment, query: str, limit: int = 10) -> list[str]:
    return [r["table"] for r in search_catalog({"query": query, "limit": limit},
                                               make_ctx(env))["results"]]


@pytest.mark.parametrize("query, first", [
    ("orders", "orders"),              # table name beats order_id columns and descriptions
    ("carrier", "shipments"),          # column name
    ("tracking number", "shipments"),  # a column name written as words
    ("tracking_number", "shipments"),
    ("email", "customers"),
    ("shoes", "products"),             # description only
    ("stock keeping unit", "products"),  # glossary
    ("CUSTOMERS", "customers"),
])
def test_ranking(query: str, first: str) -> None:
    with _env() as env:
        assert _tables(env, query)[0] == first


def test_table_with_the_column_ranks_above_a_description_mention() -> None:
    entries = [
        {"table": "notes", "description": "free text that sometimes mentions a discount"},
        {"table": "sales", "columns": [{"name": "sale_id"}, {"name": "discount"}]},
    ]
    with _env(entries) as env:
        assert _tables(env, "discount") == ["sales", "notes"]


def test_results_carry_scores_descriptions_and_matched_columns() -> None:
    with _env() as env:
        results = search_catalog({"query": "order id"}, make_ctx(env))["results"]
        by_table = {r["table"]: r for r in results}
        assert by_table["shipments"]["matchedColumns"] == ["shipment_id", "order_id"]
        assert by_table["orders"]["description"] == "One row per checkout"
        scores = [r["score"] for r in results]
        assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_limit_and_no_match() -> None:
    with _env() as env:
        assert len(_tables(env, "id", limit=2)) == 2
        assert _tables(env, "zebra") == []
        with pytest.raises(ValueError, match="limit"):
            _tables(env, "orders", limit=0)
        with pytest.raises(ValueError, match="non-empty"):
            _tables(env, "  ")


def test_search_over_a_profiled_target(env: DataEnvironment) -> None:
    assert _tables(env, "discount")[0] == "sales"
    assert _tables(env, "reorder point")[0] == "inventory"
    assert _tables(env, "stores")[0] == "stores"


def test_write_through_indexes_new_entries_at_once() -> None:
    with _env() as env:
        assert _tables(env, "refund") == []
        env.catalog.add({"table": "returns", "columns": [{"name": "refund_amount"}]})
        assert _tables(env, "refund") == ["returns"]
        env.catalog.remove("returns")
        assert _tables(env, "refund") == []


def test_without_write_through_the_index_waits_for_reindex() -> None:
    with _env(write_through=False) as env:
        assert _tables(env, "orders")[0] == "orders"
        env.catalog.add({"table": "returns", "columns": [{"name": "refund_amount"}]})
        assert _tables(env, "refund") == []
        env.catalog.reindex()
        assert _tables(env, "refund") == ["returns"]


def test_index_file_is_reused_unless_rebuild_on_start(tmp_path: Path) -> None:
    index = str(tmp_path / "catalog_index.duckdb")
    with _env(index_path=index) as env:
        assert _tables(env, "carrier") == ["shipments"]
    assert Path(index).exists()
    changed = [*SHOP, {"table": "returns", "columns": [{"name": "refund_amount"}]}]
    with _env(changed, index_path=index) as env:  # kept index: no 'returns' document yet
        assert _tables(env, "carrier") == ["shipments"]
        assert _tables(env, "refund") == []
    with _env(changed, index_path=index, rebuild_on_start=True) as env:
        assert _tables(env, "refund") == ["returns"]


def test_write_through_reaches_a_persisted_index(tmp_path: Path) -> None:
    index = str(tmp_path / "catalog_index.duckdb")
    with _env(index_path=index) as env:
        assert _tables(env, "carrier") == ["shipments"]
    with _env(index_path=index) as env:
        env.catalog.add({"table": "returns", "columns": [{"name": "refund_amount"}]})
        assert _tables(env, "refund") == ["returns"]
        assert _tables(env, "carrier") == ["shipments"]


def test_tenants_sharing_an_index_file_do_not_see_each_other(tmp_path: Path) -> None:
    index = str(tmp_path / "shared.duckdb")
    with _env(index_path=index) as env:
        assert _tables(env, "carrier") == ["shipments"]
    other = DataEnvironment({"tenant_id": "globex", "catalog": {"kind": "inline", "entries": [
        {"table": "fleet", "columns": [{"name": "truck_id"}]}]},
        "catalog_search": {"index_path": index}})
    with other:
        assert _tables(other, "carrier") == []
        assert _tables(other, "truck") == ["fleet"]
