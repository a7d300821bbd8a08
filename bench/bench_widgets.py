"""Widget traffic under a fast stream (SPEC §17): comm messages per second of a run view.

A run streams 10,000 text deltas per second for three seconds (an interpreter
paced with ``asyncio.sleep``) into a live run view, whose comm records every
message the kernel would send. Bar: at most 30 comm messages per second, and
the view's final text equal to the run's text exactly. The peer column shows
what one message per delta would cost (the naive ``w.text += delta``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import comm  # noqa: E402
from _harness import Row, print_table, size  # noqa: E402
from comm.base_comm import BaseComm  # noqa: E402

import flowai_nb as fa  # noqa: E402
from flowai_nb.interpreters.base import Interpreter, TextDelta, TurnRequest  # noqa: E402

RATE, SECONDS = 10_000, size(3.0, 0.05)


class _CountingComm(BaseComm):
    sent: list[float] = []

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                    buffers: Any = None, **keys: Any) -> None:
        if msg_type == "comm_msg":
            _CountingComm.sent.append(time.perf_counter())


class _Paced(Interpreter):
    name = "paced"

    async def turn(self, request: TurnRequest):
        per_tick = RATE // 100
        for tick in range(int(SECONDS * 100)):
            for i in range(per_tick):
                yield TextDelta(f"{tick}.{i} ")
            await asyncio.sleep(0.01)


async def _measure() -> tuple[float, bool, int]:
    from flowai_nb.jupyter import start

    spec = fa.define_runtime(fa.define_tenant("bench", "1"),
                             agents=[fa.define_specialist("s", model="m", prompt="p")])
    runtime = fa.create_runtime(spec, interpreter=_Paced())
    _CountingComm.sent.clear()
    began = time.perf_counter()
    handle = start(runtime.run_specialist("s", "stream"), runtime=runtime)
    await handle
    elapsed = time.perf_counter() - began
    deltas = sum(1 for e in handle.events if e["type"] == "text-delta")
    exact = handle.view.text == handle.text and len(handle.text) > 0
    return len(_CountingComm.sent) / elapsed, exact, deltas


def main() -> None:
    """Measure and print the table."""
    comm.create_comm = lambda *a, **k: _CountingComm(*a, **k)
    per_second, exact, deltas = asyncio.run(_measure())
    print_table(f"Widget traffic: one run view, 10,000 deltas/s for {SECONDS:g} s", [
        Row("comm messages/s per run view", f"{per_second:,.1f}/s",
            "one message per delta", f"{deltas / SECONDS:,.0f}/s",
            (deltas / SECONDS) / max(per_second, 1e-9), "<= 30/s", per_second <= 30),
        Row("final text exact", "yes" if exact else "NO", bar="exact", passed=exact),
    ])


if __name__ == "__main__":
    main()
