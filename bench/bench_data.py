"""Data tools (SPEC §17): catalog search over 100,000 entries, and ``run_sql`` vs raw DuckDB.

- Catalog search: 100,000 generated catalog entries in the BM25 index of an
  embedded DuckDB; p50 and p95 of ``search_catalog``-style queries. Bar: p50 < 20 ms.
- The ``sql`` tool: a 1,000,000-row aggregate (bar: within 1.5x) and a filter with
  ``LIMIT 200`` (bar: within 1.2x) through ``DataEnvironment.run_sql`` (guard,
  read-only attach, JSON-ready rows) against the same query on a raw DuckDB
  connection to the same file, timed in alternating rounds.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
from _harness import Contender, Row, interleave, print_table  # noqa: E402

from flowai_nb.authoring.data_environment import CatalogEntry, ColumnEntry  # noqa: E402
from flowai_nb.data.environment import DataEnvironment  # noqa: E402

WORDS = ("sales inventory store product customer order refund price margin region city "
         "supplier shipment return discount basket loyalty campaign channel forecast").split()
AGGREGATE = ("SELECT store, count(*) AS n, sum(amount) AS total, avg(amount) AS mean "
             "FROM facts GROUP BY store ORDER BY store")
FILTER = "SELECT store, amount FROM facts WHERE store = 7 AND amount > 50 LIMIT 200"


def _entries(n: int) -> list[CatalogEntry]:
    rng = random.Random(0)
    out = []
    for i in range(n):
        words = rng.sample(WORDS, 3)
        out.append(CatalogEntry(
            table=f"{words[0]}_{words[1]}_{i}",
            description=f"{' '.join(words)} facts for team {i % 97}",
            columns=[ColumnEntry(name=f"{w}_{j}", type="INTEGER") for j, w in enumerate(words)]))
    return out


def _search_latencies(entries: int = 100_000, queries: int = 200) -> tuple[float, float]:
    env = DataEnvironment({"tenant_id": "bench", "catalog": {"kind": "inline", "entries": []}})
    try:
        env.catalog.add(*_entries(entries))
        env.catalog.search("warm up", 5)
        rng = random.Random(1)
        times = []
        for _ in range(queries):
            query = " ".join(rng.sample(WORDS, 2))
            start = time.perf_counter()
            env.catalog.search(query, 10)
            times.append(time.perf_counter() - start)
    finally:
        env.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def _facts_db(path: Path, rows: int = 1_000_000) -> None:
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE facts AS SELECT (i % 50)::INTEGER AS store, "
                f"(i * 7 % 1000) / 10.0 AS amount FROM range({rows}) t(i)")
    con.close()


def main() -> None:
    """Measure and print both tables."""
    p50, p95 = _search_latencies()
    print_table("Catalog search over 100,000 entries (BM25, DuckDB fts)", [
        Row("search p50", f"{p50 * 1000:.1f} ms", bar="< 20 ms", passed=p50 < 0.020),
        Row("search p95", f"{p95 * 1000:.1f} ms"),
    ])
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "facts.duckdb"
        _facts_db(db)
        env = DataEnvironment({"tenant_id": "bench", "target_database_url": f"duckdb:///{db}"})
        raw = duckdb.connect(str(db), read_only=True)

        def contenders(sql: str, limit: int) -> list[Contender]:
            async def tool(n: int) -> None:
                for _ in range(n):
                    env.run_sql(sql, limit=limit)

            async def direct(n: int) -> None:
                for _ in range(n):
                    raw.execute(sql).fetchall()

            return [Contender("run_sql", tool), Contender("raw DuckDB", direct)]

        try:
            medians = asyncio.run(interleave(contenders(AGGREGATE, 100), rounds=5))
            filtered = asyncio.run(interleave(contenders(FILTER, 1000), rounds=5))
        finally:
            env.close()
            raw.close()
    rows = []
    for name, found, bar in (("run_sql aggregate", medians, 1.5),
                             ("run_sql filter + LIMIT 200", filtered, 1.2)):
        ratio = found["raw DuckDB"] / found["run_sql"]
        rows.append(Row(name, f"{found['run_sql'] * 1000:.2f} ms", "raw DuckDB",
                        f"{found['raw DuckDB'] * 1000:.2f} ms", ratio, f"within {bar}x",
                        found["run_sql"] <= bar * found["raw DuckDB"]))
    print_table("The sql tool vs raw DuckDB (1,000,000-row table)", rows,
                notes=["ratio below 1x: run_sql is slower than raw DuckDB by 1/ratio"])


if __name__ == "__main__":
    main()
