"""Shared helpers of the benchmark scripts: interleaved timing and the result table.

The machines these run on are shared and noisy, so every contender of a
benchmark is timed in the same process, in alternating batches (round robin),
and the results are read as ratios, not as absolute numbers.

Adding a benchmark takes one file: ``bench/bench_NAME.py`` with a ``main()``
run under ``if __name__ == "__main__"``, that prints its rows with
:func:`print_table` and takes its sizes from :func:`size` (``size(100_000,
tiny=100)``). ``python -m bench`` finds it by its file name, runs it in a
fresh process, puts its rows in the one summary table and in the JSON
results, and the test suite runs it at tiny size (``FLOWAI_BENCH_SIZE=tiny``)
to check that it still runs and prints well-formed rows. Peers that are not
installed get a :data:`PEER_HINT` row instead of failing the script.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["Contender", "Row", "interleave", "print_table", "size", "TINY", "PEER_HINT",
           "RESULTS_ENV", "SIZE_ENV"]

SIZE_ENV = "FLOWAI_BENCH_SIZE"
"""Set to ``tiny`` to run every benchmark at smoke-test size (no timing meaning)."""

RESULTS_ENV = "FLOWAI_BENCH_RESULTS"
"""When set, :func:`print_table` also appends its rows, one JSON object a line, to this file."""

TINY = os.environ.get(SIZE_ENV) == "tiny"
"""Whether this process runs at smoke-test size."""

_T = TypeVar("_T")


def size(full: _T, tiny: _T) -> _T:
    """``full`` normally, ``tiny`` in a smoke run: the one knob every benchmark reads."""
    return tiny if TINY else full

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
    if TINY:
        rounds, batch_seconds = 1, 0.001
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
    """One line of a result table: a metric, flowai_nb's value, one peer's value.

    ``ratio`` is how many times better flowai_nb does than the peer (faster, or
    more per second): above 1, flowai_nb is ahead. ``passed`` (shown as
    "holds") is ``None`` when no SPEC bar applies to the row. A metric with
    several peers takes one row per peer.
    """

    workload: str
    flowai: str
    peer: str = ""
    peer_value: str = ""
    ratio: float | None = None
    bar: str = ""
    passed: bool | None = None


COLUMNS = ("metric", "flowai_nb", "peer", "peer value", "ratio", "bar", "holds")
"""The columns of every table, and the keys of every JSON result row (with ``table``)."""


def cells(row: Row) -> tuple[str, ...]:
    """``row`` as the strings of :data:`COLUMNS`."""
    ratio = "" if row.ratio is None else f"{row.ratio:,.1f}x" if row.ratio >= 1 \
        else f"{row.ratio:.2f}x"
    holds = "" if row.passed is None else "yes" if row.passed else "NO"
    return (row.workload, row.flowai, row.peer, row.peer_value, ratio, row.bar, holds)


def format_table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned lines of a table of :data:`COLUMNS` cells, header first."""
    table = [COLUMNS, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def print_table(title: str, rows: list[Row], notes: Sequence[str] = ()) -> None:
    """Print ``rows`` under ``title`` as an aligned table, then the notes.

    With :data:`RESULTS_ENV` set, the rows are also appended to that file as
    JSON objects: ``bench``, ``table``, the :data:`COLUMNS` as printed, and
    ``ratio_value`` (a number or null) and ``held`` (true, false or null).
    """
    print(f"\n{title}")
    for line in format_table([cells(r) for r in rows]):
        print("  " + line)
    for note in notes:
        print(f"  note: {note}")
    sink = os.environ.get(RESULTS_ENV)
    if sink:
        bench = Path(sys.argv[0]).stem.removeprefix("bench_")
        with open(sink, "a", encoding="utf-8") as out:
            for row in rows:
                record = {"bench": bench, "table": title,
                          **dict(zip(COLUMNS, cells(row), strict=True)),
                          "ratio_value": row.ratio, "held": row.passed}
                out.write(json.dumps(record) + "\n")
