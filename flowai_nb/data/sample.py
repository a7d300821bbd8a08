"""A small, deterministic retail dataset in SQLite, for notebooks, demos and tests.

``make_sample_sqlite("retail.db")`` writes four tables with declared foreign
keys and a few NULLs:

- ``stores`` (8 rows): store_id, name, city, region, opened_on
- ``products`` (60 rows): product_id, sku, name, category, unit_price, discontinued
- ``inventory`` (480 rows): store_id -> stores, product_id -> products, on_hand,
  reorder_point, updated_at
- ``sales`` (3,000 rows): sale_id, sold_on, store_id -> stores, product_id -> products,
  quantity, unit_price, discount (NULL when none), customer_id (NULL for walk-ins)

The same ``seed`` always gives the same bytes of data. :func:`sample_catalog`
profiles it and adds table/column descriptions and glossary terms, for demos
of the catalog tools.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
from pathlib import Path
from typing import Any

from ..authoring.data_environment import CatalogEntry, GlossaryTerm

__all__ = ["make_sample_sqlite", "sample_catalog", "SAMPLE_TABLES"]

SAMPLE_TABLES = ("stores", "products", "inventory", "sales")

_SCHEMA = """
CREATE TABLE stores (
    store_id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL,
    region TEXT NOT NULL, opened_on DATE);
CREATE TABLE products (
    product_id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    category TEXT NOT NULL, unit_price REAL NOT NULL, discontinued INTEGER NOT NULL);
CREATE TABLE inventory (
    store_id INTEGER NOT NULL REFERENCES stores(store_id),
    product_id INTEGER NOT NULL REFERENCES products(product_id),
    on_hand INTEGER NOT NULL, reorder_point INTEGER NOT NULL, updated_at DATE,
    PRIMARY KEY (store_id, product_id));
CREATE TABLE sales (
    sale_id INTEGER PRIMARY KEY, sold_on DATE NOT NULL,
    store_id INTEGER NOT NULL REFERENCES stores(store_id),
    product_id INTEGER NOT NULL REFERENCES products(product_id),
    quantity INTEGER NOT NULL, unit_price REAL NOT NULL, discount REAL, customer_id INTEGER);
"""

_CITIES = [("Lisbon", "South"), ("Porto", "North"), ("Braga", "North"), ("Faro", "South"),
           ("Coimbra", "Center"), ("Aveiro", "Center"), ("Evora", "South"), ("Leiria", "Center")]
_CATEGORIES = {
    "Coffee": ["Espresso Beans", "Decaf Blend", "Cold Brew", "Single Origin", "House Blend"],
    "Tea": ["Green Tea", "Earl Grey", "Chamomile", "Mint Tea", "Chai"],
    "Bakery": ["Croissant", "Sourdough", "Bagel", "Muffin", "Scone"],
    "Snacks": ["Almonds", "Granola Bar", "Crisps", "Dark Chocolate", "Trail Mix"],
}


def make_sample_sqlite(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write the sample retail database to ``path`` (replacing it) and return the path.

    Raises:
        FileExistsError: never; an existing file at ``path`` is replaced.
    """
    path = Path(path)
    if path.exists():
        path.unlink()
    rng = random.Random(seed)
    stores = [(i + 1, f"{city} {'Central' if i % 2 == 0 else 'Market'}", city, region,
               (dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(2500))).isoformat())
              for i, (city, region) in enumerate(_CITIES)]
    products = []
    for category, names in _CATEGORIES.items():
        for name in names:
            for size, factor in (("S", 1.0), ("M", 1.6), ("L", 2.3)):
                pid = len(products) + 1
                price = round(rng.uniform(1.5, 12.0) * factor, 2)
                products.append((pid, f"{category[:3].upper()}-{pid:03d}-{size}",
                                 f"{name} ({size})", category, price, int(rng.random() < 0.08)))
    today = dt.date(2024, 6, 30)
    inventory = [(s[0], p[0], rng.randrange(0, 120), rng.choice((10, 15, 20, 25)),
                  None if rng.random() < 0.03
                  else (today - dt.timedelta(days=rng.randrange(30))).isoformat())
                 for s in stores for p in products]
    sales = []
    for sale_id in range(1, 3001):
        product = rng.choice(products)
        sales.append((sale_id, (today - dt.timedelta(days=rng.randrange(180))).isoformat(),
                      rng.choice(stores)[0], product[0], rng.choice((1, 1, 1, 2, 2, 3, 4)),
                      product[4], rng.choice((0.05, 0.1, 0.2)) if rng.random() < 0.15 else None,
                      rng.randrange(1, 400) if rng.random() < 0.7 else None))
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute("PRAGMA foreign_keys = ON")
            db.executescript(_SCHEMA)
            db.executemany("INSERT INTO stores VALUES (?, ?, ?, ?, ?)", stores)
            db.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)", products)
            db.executemany("INSERT INTO inventory VALUES (?, ?, ?, ?, ?)", inventory)
            db.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?, ?, ?)", sales)
    finally:
        db.close()
    return path


_DESCRIPTIONS: dict[str, dict[str, Any]] = {
    "stores": {"description": "Physical shops, one row per store",
               "columns": {"region": "Sales region: North, Center or South"},
               "glossary": [{"term": "Region", "definition": "Group of stores managed together",
                             "synonyms": ["territory"]}]},
    "products": {"description": "Items for sale; each product comes in sizes S, M and L",
                 "columns": {"sku": "Stock keeping unit code",
                             "discontinued": "1 when the product is no longer reordered"},
                 "glossary": [{"term": "SKU", "definition": "Stock keeping unit: one sellable "
                               "product in one size", "synonyms": ["stock keeping unit"]}]},
    "inventory": {"description": "Units on hand per store and product",
                  "columns": {"reorder_point": "Restock when on_hand falls below this"},
                  "glossary": [{"term": "Stockout", "definition": "on_hand = 0 for a product "
                                "in a store", "synonyms": ["out of stock"]}]},
    "sales": {"description": "One row per sale (a line of a receipt)",
              "columns": {"discount": "Fraction off the unit price; NULL when none",
                          "customer_id": "Loyalty customer; NULL for walk-ins"},
              "glossary": [{"term": "Revenue", "definition": "sum(quantity * unit_price * "
                            "(1 - coalesce(discount, 0)))", "synonyms": ["net sales"]}]},
}


def sample_catalog(path: str | os.PathLike) -> list[CatalogEntry]:
    """Catalog entries for a database made by :func:`make_sample_sqlite`.

    The profile of ``path`` (row counts, null rates, samples, foreign keys)
    plus descriptions and glossary terms, ready for an ``inline`` catalog.
    """
    from .catalog import profile_catalog

    entries = []
    for entry in profile_catalog(os.fspath(path)):
        extra = _DESCRIPTIONS.get(entry.table, {})
        notes = extra.get("columns", {})
        columns = [c.model_copy(update={"description": notes.get(c.name, c.description)})
                   for c in entry.columns]
        entries.append(entry.model_copy(update={
            "description": extra.get("description"), "columns": columns,
            "glossary": [GlossaryTerm.model_validate(g) for g in extra.get("glossary", [])]}))
    return entries
