"""A runaway agent query never freezes the event loop (SPEC §16): the built-in SQL tool runs
off the loop, and DuckDB is interrupted at the data environment's timeout.

No wall-clock bars: a ticker counts its ticks while the query runs, and the count is
compared with the query's own measured duration.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import flowai_nb as fa
from flowai_nb.data import make_sample_sqlite

RUNAWAY = "SELECT count(*) FROM range(1000000000000) a"
TICK_S = 0.01
MIN_HZ = 20


def test_a_ticker_keeps_ticking_while_a_runaway_query_runs(tmp_path: Path) -> None:
    db = make_sample_sqlite(tmp_path / "retail.db", seed=0)
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_specialist("analyst", model="m", prompt="Analyse.", toolkits=["sql"])],
        providers={"scripted": {"scripts": {"analyst": [
            {"tool": "run_sql", "args": {"sql": RUNAWAY}}, {"text": "too slow"}]}}})
    rt = fa.create_runtime(spec, interpreter="scripted", data_environment={
        "tenant_id": "acme", "target_database_url": str(db), "sql": {"timeout_s": 2}})
    _ = rt.data  # open DuckDB before measuring

    async def main() -> tuple[list[float], float, float, list[dict]]:
        ticks: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                await asyncio.sleep(TICK_S)
                ticks.append(time.monotonic())

        task = asyncio.ensure_future(ticker())
        started = ended = 0.0
        events = []
        async for event in rt.run_specialist("analyst", "go"):
            events.append(event)
            if event["type"] == "tool-call":
                started = time.monotonic()
            elif event["type"] == "tool-result":
                ended = time.monotonic()
        stop.set()
        await task
        return ticks, started, ended, events

    try:
        ticks, started, ended, events = asyncio.run(asyncio.wait_for(main(), 120))
    finally:
        rt.close()
    result = next(e for e in events if e["type"] == "tool-result")
    assert "cancelled after 2s" in result["error"]  # DuckDB was interrupted
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "completed"
    during = [t for t in ticks if started <= t <= ended]
    duration = ended - started
    assert duration >= 1.5  # the query really ran until the timeout
    assert len(during) >= MIN_HZ * duration, (len(during), duration)
    gaps = [b - a for a, b in zip([started, *during], [*during, ended], strict=True)]
    assert max(gaps) < duration / 4  # never one long freeze, however loaded the machine
