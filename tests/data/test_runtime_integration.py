"""The data toolkits through a real runtime: agent SQL is read-only end to end."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

import flowai_nb as fa
from flowai_nb.data.sample import make_sample_sqlite

WRITES = [
    "DELETE FROM sales",
    "UPDATE products SET unit_price = 0",
    "DROP TABLE inventory",
    "INSERT INTO stores VALUES (99, 'x', 'y', 'z', NULL)",
    "SELECT 1; DELETE FROM sales",
    "/* harmless */ DELETE FROM sales",
    "ATTACH 'other.db' AS other",
    "COPY sales TO 'leak.csv'",
]


def runtime_for(db, turns) -> fa.Runtime:
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_specialist("analyst", model="m", prompt="SQL.",
                                     toolkits=["catalog", "sql"])],
        providers={"scripted": {"scripts": {"analyst": turns}}})
    return fa.create_runtime(spec, interpreter="scripted", target_database_url=f"sqlite:///{db}")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return make_sample_sqlite(tmp_path_factory.mktemp("data") / "retail.db")


def test_agent_sql_cannot_write_through_a_run(db) -> None:
    before = sqlite3.connect(db).execute("SELECT count(*) FROM sales").fetchone()[0]
    turns = [{"tool": "run_sql", "args": {"sql": sql}} for sql in WRITES] + [{"text": "done"}]
    rt = runtime_for(db, turns)
    events = asyncio.run(rt.run_specialist("analyst", "try to write").collect())
    results = [e for e in events if e["type"] == "tool-result"]
    assert len(results) == len(WRITES)
    for sql, result in zip(WRITES, results, strict=True):
        assert "error" in result and "result" not in result, sql
    assert events[-1]["status"] == "completed"
    rt.close()
    after = sqlite3.connect(db).execute("SELECT count(*) FROM sales").fetchone()[0]
    assert after == before


def test_catalog_tools_and_large_results_as_references(db) -> None:
    turns = [{"tool": "list_tables", "args": {}},
             {"tool": "describe_table", "args": {"table": "inventory"}},
             {"tool": "search_catalog", "args": {"query": "on_hand"}},
             {"tool": "run_sql", "args": {"sql": "SELECT * FROM sales", "limit": 3000}},
             {"tool": "describe_table", "args": {"table": "nope"}},
             {"text": "done"}]
    rt = runtime_for(db, turns)
    events = asyncio.run(rt.run_specialist("analyst", "explore").collect())
    tables, described, search, big, unknown = [e for e in events if e["type"] == "tool-result"]
    counts = {t["table"]: t["rowCount"] for t in tables["result"]["tables"]}
    assert counts["sales"] == 3000 and {"stores", "products", "inventory"} <= set(counts)
    assert "on_hand" in str(described["result"])
    assert search["result"]["results"][0]["table"] == "inventory"
    assert big["result"]["kind"] == "sql_result"
    assert big["glimpse"]["rowCount"] == 3000 and big["glimpse"]["columns"][0] == "sale_id"
    frame = rt.data.frame(big["result"])
    assert len(frame) == 3000 and list(frame.columns)[:2] == ["sale_id", "sold_on"]
    assert "nope" in unknown["error"]
    rt.close()
