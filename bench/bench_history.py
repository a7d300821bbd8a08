"""Per-turn engine cost of a stateful thread at turn 10 vs turn 1,000 (append-only history).

One stateful coordinator on the scripted interpreter answers one turn per
``query`` on the same thread; the store is SQLite (the history lives in it).
The cost of turns 1-10 is compared with the cost of the last 10 turns.
SPEC §17 bar: turn 1,000 within 2x of turn 10. Usage::

    python bench/bench_history.py [--turns 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from _harness import Row, print_table, size

import flowai_nb as fa

BAR = 2.0


async def measure(turns: int, workdir: Path) -> list[Row]:
    """Play ``turns`` turns on one thread; return the table rows."""
    spec = fa.define_runtime(
        fa.define_tenant("bench", "1"),
        agents=[fa.define_coordinator("talker", model="scripted", prompt="Talk.")],
        providers={"scripted": {"scripts": {"talker": [{"text": "ok"}] * turns}}},
        storage_factories={"kv": {"kind": "sqlite",
                                  "config": {"path": str(workdir / "kv.db")}}},
    )
    rt = fa.create_runtime(spec, interpreter="scripted")
    times = []
    for i in range(turns):
        start = time.perf_counter()
        events = await rt.query(f"message {i}", "thread").collect()
        times.append(time.perf_counter() - start)
        if events[-1]["status"] != "completed":
            raise RuntimeError(f"turn {i} ended {events[-1]['status']}")
    rt.close()
    window = max(1, min(10, turns // 10))
    early = statistics.median(times[:window]) * 1000
    late = statistics.median(times[-window:]) * 1000
    ratio = late / early
    return [Row(f"turn {turns:,} vs turn {window}, stateful thread", f"{late:.3f} ms/turn",
                f"same thread at turn {window}", f"{early:.3f} ms/turn", early / late,
                bar=f"late <= {BAR:.0f}x early", passed=ratio <= BAR)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=size(1000, 20), help="turns to play")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowai-bench-") as tmp:
        rows = asyncio.run(measure(args.turns, Path(tmp)))
    print_table("per-turn engine cost as a thread's history grows (median ms per turn)", rows,
                ["ratio = early / late: 1.0x means no slowdown; the bar allows 2x"])


if __name__ == "__main__":
    main()
