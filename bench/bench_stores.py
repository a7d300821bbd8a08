"""Store growth: ``list_traces(filter)``, ``pending_approvals()``, ``get_plan(id)`` with
1,000 / 10,000 / 100,000 stored runs, on every store kind (memory, SQLite, DuckDB, and
throwaway Redis and PostgreSQL servers started on 127.0.0.1 when their binaries are installed).

Each stored run leaves what a real one does: a trace (indexed by thread and eval
run), a resolved approval and a plan; 5 approvals stay pending. The stores are
filled through the engine's own store classes in large transactions (filling
by running 100,000 runs would take minutes and time nothing of interest), then
each call is timed through the public ``Runtime`` API, median of many calls.
SPEC §17 bar: each call under 10 ms at 100,000 runs (indexed, not scanned). Usage::

    python bench/bench_stores.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import Row, print_table, size

import flowai_nb as fa
from flowai_nb.storage.base import encode

BAR_MS = 10.0
CHUNK = 5_000


def _storage(kind: str, workdir: Path, servers: dict[str, str], n: int) -> Any:
    if kind in ("sqlite", "duckdb"):
        path = workdir / f"{time.time_ns()}.{kind}"
        return {"kv": {"kind": kind, "config": {"path": str(path)}}}
    if kind in ("redis", "postgres"):
        return {"kv": {"kind": kind, "config": {"url": _fresh(kind, servers[kind], n)}}}
    return None


def _runtime(storage: Any) -> Any:
    spec = fa.define_runtime(fa.define_tenant("bench", "1"),
                             agents=[fa.define_coordinator("c", model="m", prompt="Hi.")],
                             storage_factories=storage)
    return fa.create_runtime(spec)


def _fresh(kind: str, url: str, n: int) -> str:
    """An empty database on the ``kind`` server at ``url``, one per size."""
    base = url.rsplit("/", 1)[0]
    if kind == "redis":
        import redis

        with redis.Redis.from_url(f"{base}/2") as client:
            client.flushdb()
        return f"{base}/2"
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS bench_{n}")
        conn.execute(f"CREATE DATABASE bench_{n}")
    return f"{base}/bench_{n}"


@contextlib.contextmanager
def _servers(kinds: list[str]) -> Iterator[tuple[dict[str, str], list[str]]]:
    """Throwaway Redis / PostgreSQL servers for the server kinds in ``kinds``, and notes
    naming the kinds skipped (server binaries not installed)."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    import pytest

    from tests.servers import postgres_server, redis_server

    urls: dict[str, str] = {}
    notes: list[str] = []
    with contextlib.ExitStack() as stack:
        for kind, start in (("redis", redis_server), ("postgres", postgres_server)):
            if kind in kinds:
                try:
                    urls[kind] = stack.enter_context(start())
                except pytest.skip.Exception as exc:
                    notes.append(f"{kind} rows skipped: {exc.msg}")
        yield urls, notes


def _ops(rt: Any, n: int) -> Iterator[list[Any]]:
    """The writes that leave ``n`` stored runs, in chunks of about :data:`CHUNK` ops."""
    services = rt._run_services  # setup only: the timed calls below are public API
    ops: list[Any] = []
    for i in range(n):
        run_id = f"run-{i:07d}"
        trace = {"traceId": f"trace-{run_id}", "runId": run_id, "threadId": f"thread-{i}",
                 "evalRunId": f"eval-{i // 100}", "testCaseId": f"case-{i % 100}",
                 "status": "completed", "startedAt": i, "endedAt": i + 1, "usage": {},
                 "events": [], "spans": [], "hookErrors": []}
        ops += services.traces.save_ops(trace)
        request = {"approvalId": f"ap-{run_id}", "runId": run_id, "threadId": f"thread-{i}",
                   "agent": "c", "kind": "tool", "target": "t", "payload": {},
                   "resumeToken": "resume-" + run_id}
        opened = services.broker.open_ops(request)
        if i >= 5:  # resolved: the record stays, the pending index entry goes
            opened = [opened[0], ("put", f"approval-decisions/ap-{run_id}",
                                  {"outcome": "approve"})]
        ops += opened
        record = {"id": f"plan-{i}@v1", "baseId": f"plan-{i}", "version": 1, "plan": "p",
                  "status": "executed", "body": {}, "actions": [], "history": [],
                  "createdAt": i, "updatedAt": i, "author": "c", "runId": run_id,
                  "threadId": f"thread-{i}"}
        ops += services.plans.add_ops(record)
        if len(ops) >= CHUNK:
            yield ops
            ops = []
    yield ops


def _fill(rt: Any, n: int) -> None:
    kv = rt._run_services.kv
    for ops in _ops(rt, n):
        kv.write(ops)


def _bulk_load(rt: Any, n: int, storage: Any, workdir: Path) -> Any:
    """The DuckDB store filled with the same rows by one bulk insert (its statement-per-write
    path takes tens of minutes for 100,000 runs), then opened again: return that runtime."""
    import duckdb

    prefix = rt._run_services.kv._prefix
    rows = workdir / "rows.ndjson"
    with rows.open("w") as out:
        for ops in _ops(rt, n):
            for op, key, value in ops:
                assert op in ("put", "add"), op
                out.write(json.dumps({"key": prefix + key, "value": encode(value)}) + "\n")
    rt.close()
    with duckdb.connect(storage["kv"]["config"]["path"]) as conn:
        conn.execute("INSERT INTO flowai_kv SELECT key, value, NULL FROM read_json(?, "
                     "format='newline_delimited', columns={'key': 'VARCHAR', 'value': 'VARCHAR'})",
                     (str(rows),))
    rows.unlink()
    return _runtime(storage)


def _median_ms(call: Any, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _calls(rt: Any, mid: int) -> dict[str, Any]:
    return {
        "list_traces(thread_id=...)": lambda: rt.list_traces(thread_id=f"thread-{mid}"),
        "list_traces(eval_run_id, test_case_id)": lambda: rt.list_traces(
            eval_run_id=f"eval-{mid // 100}", test_case_id=f"case-{mid % 100}"),
        "pending_approvals()": rt.pending_approvals,
        "get_plan(base id)": lambda: rt.get_plan(f"plan-{mid}"),
    }


def measure(kinds: list[str], sizes: list[int], workdir: Path,
            servers: dict[str, str]) -> list[Row]:
    """Time the three calls for each store kind and size; return the table rows."""
    rows = []
    repeat = size(50, 2)
    for kind in kinds:
        if kind in ("redis", "postgres") and kind not in servers:
            continue
        for n in sizes:
            storage = _storage(kind, workdir, servers, n)
            rt = _runtime(storage)
            if kind == "duckdb":
                rt = _bulk_load(rt, n, storage, workdir)
            else:
                _fill(rt, n)
            calls = _calls(rt, n // 2)
            assert len(rt.list_traces(thread_id=f"thread-{n // 2}")) == 1
            assert len(rt.pending_approvals()) == min(5, n)
            assert rt.get_plan(f"plan-{n // 2}")["threadId"] == f"thread-{n // 2}"
            for name, call in calls.items():
                ms = _median_ms(call, repeat)
                rows.append(Row(f"{name}, {kind}, {n:,} runs", f"{ms:.3f} ms",
                                bar=f"< {BAR_MS:.0f} ms at 100,000" if n >= 100_000 else "",
                                passed=(ms < BAR_MS) if n >= 100_000 else None))
            rt.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=size("1000,10000,100000", "10,100"),
                        help="comma-separated numbers of stored runs")
    parser.add_argument("--kinds", default="memory,sqlite,duckdb,redis,postgres",
                        help="comma-separated store kinds")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.kinds.split(",")
    with tempfile.TemporaryDirectory(prefix="flowai-bench-") as tmp, \
            _servers(kinds) as (servers, notes):
        rows = measure(kinds, sizes, Path(tmp), servers)
    print_table("store calls as the store grows (median ms per call)", rows,
                ["each stored run: an indexed trace, a resolved approval, a plan; "
                 "5 approvals pending", *notes])


if __name__ == "__main__":
    main()
