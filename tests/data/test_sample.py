"""The sample retail dataset: deterministic, related tables, a few NULLs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flowai_nb.data import make_sample_sqlite
from flowai_nb.data.sample import SAMPLE_TABLES


def _dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        lines = list(db.iterdump())
    db.close()
    return lines


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path) -> None:
    a = make_sample_sqlite(tmp_path / "a.db", seed=0)
    b = make_sample_sqlite(tmp_path / "b.db", seed=0)
    c = make_sample_sqlite(tmp_path / "c.db", seed=1)
    assert _dump(a) == _dump(b)
    assert _dump(a) != _dump(c)


def test_tables_sizes_keys_and_nulls(tmp_path: Path) -> None:
    path = make_sample_sqlite(tmp_path / "retail.db")
    with sqlite3.connect(path) as db:
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SAMPLE_TABLES}
        assert counts == {"stores": 8, "products": 60, "inventory": 480, "sales": 3000}
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        fks = {t: {r[2] for r in db.execute(f"PRAGMA foreign_key_list({t})")}
               for t in SAMPLE_TABLES}
        assert fks["sales"] == fks["inventory"] == {"stores", "products"}
        nulls = db.execute("SELECT count(*) - count(discount), count(*) - count(customer_id) "
                           "FROM sales").fetchone()
        assert all(n > 0 for n in nulls)
    db.close()


def test_existing_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "retail.db"
    path.write_text("not a database")
    make_sample_sqlite(path)
    assert len(_dump(path)) > 3000


def test_sample_catalog_powers_the_catalog_tools(retail_db: Path) -> None:
    from flowai_nb.data import DataEnvironment, sample_catalog

    entries = sample_catalog(retail_db)
    config = {"tenant_id": "acme", "target_database_url": str(retail_db),
              "catalog": {"kind": "inline", "entries": [e.to_wire() for e in entries]}}
    with DataEnvironment(config) as env:
        sales = env.describe_table("sales")
        assert sales["rowCount"] == 3000 and sales["description"].startswith("One row per sale")
        assert {c["name"]: c["description"] for c in sales["columns"]}["discount"].startswith(
            "Fraction off")
        assert env.lookup_glossary("net sales")["matches"][0]["term"] == "Revenue"
        assert env.search_catalog("stockout")["results"][0]["table"] == "inventory"
