"""Data tools (SPEC §17): catalog search at 100,000 and 1,000,000 entries, and ``run_sql``.

- Catalog search: generated catalog entries (table, description, three
  columns) indexed by ``CatalogSearch``; p50 and p95 of broad two-word
  queries (every word is in ~15% of the entries), the index build time and
  the resident memory the built index adds. The peer is DuckDB's own ``fts``
  extension (``create_fts_index`` + ``match_bm25``) on the same documents,
  at 100,000 entries (at a million its build alone takes minutes). Bars:
  p50 < 20 ms at 100,000; at 1,000,000 p50 < 20 ms, build < 30 s, < 1 GiB.
- The ``sql`` tool: a 1,000,000-row aggregate and a filter + ``LIMIT 200``
  through ``DataEnvironment.run_sql`` (guard, read-only attach, JSON-ready
  rows) against the same query on a raw DuckDB connection, timed in
  alternating rounds; once over a DuckDB target and once over a SQLite
  target (attached through DuckDB's sqlite scanner; peers: raw DuckDB with
  the same attach, and Python's ``sqlite3``). Bars: aggregate within 1.5x,
  filter + limit within 1.2x of raw DuckDB.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
from _harness import Contender, Row, interleave, print_table, size  # noqa: E402

from flowai_nb.authoring.data_environment import CatalogEntry, ColumnEntry  # noqa: E402
from flowai_nb.data._extensions import connect  # noqa: E402
from flowai_nb.data.environment import DataEnvironment  # noqa: E402
from flowai_nb.data.search import CatalogSearch, document  # noqa: E402

WORDS = ("sales inventory store product customer order refund price margin region city "
         "supplier shipment return discount basket loyalty campaign channel forecast").split()
AGGREGATE = ("SELECT store, count(*) AS n, sum(amount) AS total, avg(amount) AS mean "
             "FROM facts GROUP BY store ORDER BY store")
FILTER = "SELECT store, amount FROM facts WHERE amount > 99.5 LIMIT 200"
ROWS = size(1_000_000, 2_000)
SEARCH_SIZES = size((100_000, 1_000_000), (300,))
PEER_SIZE = size(100_000, 300)
QUERIES = size(200, 5)


def _entries(n: int) -> list[CatalogEntry]:
    """``n`` entries, built without validation (the bench times the index, not pydantic)."""
    rng = random.Random(0)
    out = []
    for i in range(n):
        words = rng.sample(WORDS, 3)
        out.append(CatalogEntry.model_construct(
            table=f"{words[0]}_{words[1]}_{i}",
            description=f"{' '.join(words)} facts for team {i % 97}", glossary=[],
            columns=[ColumnEntry.model_construct(name=f"{w}_{j}", type="INTEGER",
                                                 description=None, sample_values=[])
                     for j, w in enumerate(words)]))
    return out


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def _queries() -> list[str]:
    rng = random.Random(1)
    return [" ".join(rng.sample(WORDS, 2)) for _ in range(QUERIES)]


def _latencies(search) -> tuple[float, float, float]:
    """p50 and p95 wall time, and p50 CPU time of this thread (robust on a busy machine)."""
    search("warm up")
    times, cpu = [], []
    for query in _queries():
        start, start_cpu = time.perf_counter(), time.thread_time()
        search(query)
        times.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)], statistics.median(cpu)


def _ours(entries: list[CatalogEntry]) -> dict[str, float]:
    gc.collect()
    before = _rss_mb()
    index = CatalogSearch(scope="bench")
    start, cpu = time.perf_counter(), time.process_time()
    index.rebuild(entries)
    build, build_cpu = time.perf_counter() - start, time.process_time() - cpu
    gc.collect()
    memory = _rss_mb() - before
    p50, p95, p50_cpu = _latencies(lambda q: index.search(q, 10))
    index.close()
    return {"build": build, "cpu": build_cpu, "memory": memory, "p50": p50, "p95": p95,
            "p50_cpu": p50_cpu}


def _extension(entries: list[CatalogEntry]) -> dict[str, float]:
    con = connect(extensions=("fts",))
    con.execute("CREATE TABLE docs (name VARCHAR, body VARCHAR)")
    con.executemany("INSERT INTO docs VALUES (?, ?)", [(e.table, document(e)) for e in entries])
    start = time.perf_counter()
    con.execute(r"PRAGMA create_fts_index('docs', 'name', 'body', ignore='(\\.|[^a-z0-9])+')")
    build = time.perf_counter() - start
    sql = ("SELECT name, score FROM (SELECT name, fts_main_docs.match_bm25(name, ?) AS score "
           "FROM docs) WHERE score IS NOT NULL ORDER BY score DESC, name LIMIT 10")
    p50, p95, _ = _latencies(lambda q: con.execute(sql, [q]).fetchall())
    con.close()
    return {"build": build, "p50": p50, "p95": p95}


def search_rows() -> list[Row]:
    """Catalog search rows, every size, with the fts extension beside the first."""
    rows = []
    for n in SEARCH_SIZES:
        entries = _entries(n)
        ours = _ours(entries)
        label = f"{n:,} entries"
        peer = _extension(entries) if n == PEER_SIZE else None
        ms = f"{ours['p50'] * 1000:.1f} ms ({ours['p50_cpu'] * 1000:.1f} ms CPU)"
        if peer:
            rows.append(Row(f"search p50, {label}", ms, "DuckDB fts match_bm25",
                            f"{peer['p50'] * 1000:.1f} ms", peer["p50"] / ours["p50"],
                            "< 20 ms", ours["p50"] < 0.020))
            rows.append(Row(f"index build, {label}", f"{ours['build']:.1f} s",
                            "DuckDB fts create_fts_index", f"{peer['build']:.1f} s",
                            peer["build"] / ours["build"]))
        else:
            rows.append(Row(f"search p50, {label}", ms, bar="< 20 ms",
                            passed=ours["p50"] < 0.020))
            rows.append(Row(f"index build, {label}",
                            f"{ours['build']:.1f} s ({ours['cpu']:.1f} s CPU)",
                            bar="< 30 s" if n >= 1_000_000 else "",
                            passed=ours["build"] < 30 if n >= 1_000_000 else None))
        rows.append(Row(f"search p95, {label}", f"{ours['p95'] * 1000:.1f} ms"))
        rows.append(Row(f"index memory, {label}", f"{ours['memory']:,.0f} MB",
                        bar="< 1 GiB" if n >= 1_000_000 else "",
                        passed=ours["memory"] < 1024 if n >= 1_000_000 else None))
        del entries
    return rows


def _facts(con, rows: int) -> None:
    con.execute(f"CREATE TABLE facts AS SELECT (i % 50)::INTEGER AS store, "
                f"(i * 7 % 1000) / 10.0 AS amount FROM range({rows}) t(i)")


def _duckdb_target(path: Path) -> None:
    con = duckdb.connect(str(path))
    _facts(con, ROWS)
    con.close()


def _sqlite_target(path: Path) -> None:
    con = connect(extensions=("sqlite",))
    con.execute(f"ATTACH '{path}' AS t (TYPE sqlite)")
    con.execute("USE t")
    _facts(con, ROWS)
    con.close()


def _contenders(env: DataEnvironment, peers: dict, sql: str) -> list[Contender]:
    def timed(run):
        async def go(n: int) -> None:
            for _ in range(n):
                run()
        return go

    out = [Contender("run_sql", timed(lambda: env.run_sql(sql, limit=1000)))]
    out += [Contender(name, timed(lambda fetch=fetch: fetch(sql))) for name, fetch in peers.items()]
    return out


def sql_rows(kind: str) -> list[Row]:
    """``run_sql`` against raw engines over a ``kind`` ("duckdb" or "sqlite") target."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"facts.{kind}"
        if kind == "duckdb":
            _duckdb_target(path)
            raw = duckdb.connect(str(path), read_only=True)
            peers = {"raw DuckDB": lambda sql: raw.execute(sql).fetchall()}
            closers = [raw.close]
        else:
            _sqlite_target(path)
            attached = connect(extensions=("sqlite",))
            attached.execute(f"ATTACH '{path}' AS t (TYPE sqlite, READ_ONLY)")
            attached.execute("USE t")
            lite = sqlite3.connect(path)
            peers = {"raw DuckDB, same attach": lambda sql: attached.execute(sql).fetchall(),
                     "sqlite3": lambda sql: lite.execute(sql).fetchall()}
            closers = [attached.close, lite.close]
        env = DataEnvironment({"tenant_id": "bench", "target_database_url": f"{kind}:///{path}"})
        try:
            for label, sql, bar in (("aggregate", AGGREGATE, 1.5), ("filter + LIMIT 200",
                                                                    FILTER, 1.2)):
                medians = asyncio.run(interleave(_contenders(env, peers, sql), rounds=5))
                ours = medians.pop("run_sql")
                for name, theirs in medians.items():
                    barred = name.startswith("raw DuckDB")
                    rows.append(Row(f"run_sql {label}, {kind} target", f"{ours * 1000:.2f} ms",
                                    name, f"{theirs * 1000:.2f} ms", theirs / ours,
                                    f"within {bar}x" if barred else "",
                                    ours <= bar * theirs if barred else None))
        finally:
            env.close()
            for close in closers:
                close()
    return rows


def main() -> None:
    """Measure and print the tables."""
    print_table("Catalog search (BM25; ratio = peer time / flowai_nb time)", search_rows(),
                ["memory: resident set growth after the build, entries already in memory"])
    for kind in ("duckdb", "sqlite"):
        print_table(f"The sql tool on {ROWS:,} rows, {kind} target "
                    f"(ratio below 1x: run_sql is slower by 1/ratio)", sql_rows(kind))


if __name__ == "__main__":
    main()
