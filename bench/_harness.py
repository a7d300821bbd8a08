"""Shared helpers of the benchmark scripts: interleaved timing and the result table.

The machines these run on are shared and noisy, so every contender of a
benchmark is timed in the same process, in alternating batches (round robin),
and the results are read as ratios, not as absolute numbers.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

__all__ = ["Contender", "Row", "interleave", "print_table", "PEER_HINT"]

PEER_HINT = "not installed: pip install -e '.[bench]'"
"""Shown in place of a peer's number when the peer library is missing."""


@dataclass
class Contender:
    """One side of a comparison.

    ``run(n)`` does ``n`` units of the workload; ``prepare(n)``, when given,
    sets up ``n`` units before each timed batch (not timed).
    """

    name: str
    run: Callable[[int], Awaitable[object]]
    prepare: Callable[[int], Awaitable[object]] | None = None


async def interleave(contenders: list[Contender], *, rounds: int = 7,
                     batch_seconds: float = 0.15) -> dict[str, float]:
    """Median seconds per unit of each contender, timed in alternating batches.

    Each contender is warmed up, then its batch size is calibrated so one
    batch lasts about ``batch_seconds``; then ``rounds`` rounds run one batch
    of every contender each, so noise on the machine hits every side alike.
    """
    sizes: dict[str, int] = {}
    for c in contenders:
        await _batch(c, 2)  # warm-up: imports, caches, first-run paths
        per_unit = await _batch(c, 5) / 5
        sizes[c.name] = max(1, min(100_000, round(batch_seconds / max(per_unit, 1e-9))))
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(rounds):
        for c in contenders:
            n = sizes[c.name]
            samples[c.name].append(await _batch(c, n) / n)
    return {name: statistics.median(values) for name, values in samples.items()}


async def _batch(contender: Contender, n: int) -> float:
    if contender.prepare is not None:
        await contender.prepare(n)
    gc.collect()
    start = time.perf_counter()
    await contender.run(n)
    return time.perf_counter() - start


@dataclass
class Row:
    """One line of a result table.

    ``ratio`` is how many times better flowai_nb does than the peer (faster, or
    more per second): above 1, flowai_nb is ahead. ``passed`` is ``None`` when
    no SPEC bar applies to the row.
    """

    workload: str
    flowai: str
    peer: str = ""
    peer_value: str = ""
    ratio: float | None = None
    bar: str = ""
    passed: bool | None = None


def print_table(title: str, rows: list[Row], notes: Sequence[str] = ()) -> None:
    """Print ``rows`` under ``title`` as an aligned table, then the notes."""
    header = ("workload", "flowai_nb", "peer", "peer value", "ratio", "bar", "vs bar")
    cells = [header] + [
        (r.workload, r.flowai, r.peer, r.peer_value,
         "" if r.ratio is None else f"{r.ratio:,.1f}x" if r.ratio >= 1 else f"{r.ratio:.2f}x",
         r.bar, "" if r.passed is None else "PASS" if r.passed else "FAIL")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, row in enumerate(cells):
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    for note in notes:
        print(f"  note: {note}")
