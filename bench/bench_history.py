"""Per-turn cost of a stateful thread: turn 10 vs turn 1,000.

A stateful coordinator answers every ``runtime.query()`` on one thread, so its
history grows by two messages a turn. The engine cost of one turn (the whole
query with its events streamed, history read and appended, trace and journal
written; the scripted model's own time subtracted) is timed at turn 10 (on fresh
threads, each first played to turn 9) and at turn 1,000 (one long thread),
sample by sample alternately so load on the machine hits both alike, on the
memory and SQLite stores. SPEC §17 bar: turn 1,000 within 2x of turn 10. Usage::

    python bench/bench_history.py [--turns 1000] [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import Row, print_table, size

import flowai_nb as fa

BAR = 2.0
EARLY = 10


def _runtime(kind: str, workdir: Path, turns: int) -> tuple[Any, list[float]]:
    """A runtime whose interpreter's time is added to the returned list (to subtract)."""
    storage = None
    if kind == "sqlite":
        storage = {"kv": {"kind": "sqlite", "config": {"path": str(workdir / "kv.db")}}}
    spec = fa.define_runtime(
        fa.define_tenant("bench", "1"),
        agents=[fa.define_coordinator("c", model="scripted", prompt="Answer.")],
        providers={"scripted": {"scripts": {"c": [{"text": "ok"}] * turns}}},
        storage_factories=storage)
    rt = fa.create_runtime(spec, interpreter="scripted")
    model_time = [0.0]
    original = rt.interpreter.turn

    async def timed(request: Any) -> Any:
        start = time.perf_counter()
        items = [item async for item in original(request)]
        model_time[0] += time.perf_counter() - start
        for item in items:
            yield item

    rt.interpreter.turn = timed
    return rt, model_time


async def _turn(rt: Any, model_time: list[float], thread: str) -> float:
    """Seconds of engine time of one query on ``thread``."""
    before = model_time[0]
    start = time.perf_counter()
    stream = rt.query("next question", thread)
    async for _ in stream:
        pass
    if stream.text != "ok":
        raise RuntimeError(f"unexpected answer {stream.text!r}")
    return time.perf_counter() - start - (model_time[0] - before)


async def measure(kind: str, turns: int, samples: int) -> tuple[float, float]:
    """Median engine ms per turn at turn ``EARLY`` and at turn ``turns``."""
    with tempfile.TemporaryDirectory() as tmp:
        rt, model_time = _runtime(kind, Path(tmp), turns + samples + EARLY)
        for _ in range(turns - 1):
            await _turn(rt, model_time, "long")
        early: list[float] = []
        late: list[float] = []
        for i in range(samples):
            fresh = f"short-{i}"
            for _ in range(EARLY - 1):
                await _turn(rt, model_time, fresh)
            early.append(await _turn(rt, model_time, fresh))
            late.append(await _turn(rt, model_time, "long"))
        history = rt._run_services.history(rt.spec.agent("c"), "long")
        if len(history) != 2 * (turns - 1 + samples):
            raise RuntimeError(f"history of the long thread has {len(history)} messages")
        rt.close()
    return statistics.median(early) * 1e3, statistics.median(late) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=size(1000, tiny=20))
    parser.add_argument("--samples", type=int, default=size(200, tiny=3))
    args = parser.parse_args()
    rows = []
    for kind in ("memory", "sqlite"):
        early, late = asyncio.run(measure(kind, args.turns, args.samples))
        rows.append(Row(f"engine ms per turn at turn {args.turns:,} ({kind} store)",
                        f"{late:.3f} ms", f"same runtime at turn {EARLY}", f"{early:.3f} ms",
                        early / late, f"turn {args.turns:,} <= {BAR:g}x turn {EARLY}",
                        late <= BAR * early))
    print_table("Stateful thread: per-turn engine cost as history grows", rows,
                ["model time excluded; history is an append-only log read from a cache"])


if __name__ == "__main__":
    main()
