"""Eval throughput: samples per second on the mock (``testing=``) interpreter.

Runs the same eval (4 cases x N samples, each sample a full coordinator run scored
by a trajectory and two final-response scorers) at concurrency 1, 4 and 16 and prints
samples/s twice: with the mock answering at once (pure engine and scorer cost, which is
CPU-bound and cannot scale on 2 cores), and with the mock waiting ``--turn-latency-ms``
per model turn like a real provider (where concurrency should scale throughput).
Usage::

    python bench/bench_evals.py [--samples 100] [--repeat 3] [--turn-latency-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _harness import Row, print_table, size

import flowai_nb as fa
from flowai_nb.evals import (
    ResponseScorer,
    define_eval_config,
    define_eval_request,
    define_test_case,
    run_eval,
)
from flowai_nb.interpreters.mock import MockInterpreter

ANSWER = "Stock is fine today."


class _SlowMock(MockInterpreter):
    """The mock interpreter, waiting like a provider before each turn."""

    def __init__(self, latency_s: float) -> None:
        super().__init__(ANSWER)
        self.latency_s = latency_s

    async def turn(self, request):
        await asyncio.sleep(self.latency_s)
        async for item in super().turn(request):
            yield item


def _runtime(latency_ms: float = 0.0):
    spec = fa.define_runtime(fa.define_tenant("bench", "1"), agents=[
        fa.define_coordinator("boss", model="mock", prompt="Answer briefly.")])
    if latency_ms:
        return fa.create_runtime(spec, interpreter=_SlowMock(latency_ms / 1000))
    return fa.create_runtime(spec, testing=fa.TestingConfig(mock_response=ANSWER))


def _request(samples: int, concurrency: int):
    cases = [define_test_case(f"case-{i}", f"Question {i}", expected_trajectory=[],
                              final_response=[ResponseScorer.contains("Stock"),
                                              ResponseScorer.regex(r"fine\s+today")])
             for i in range(4)]
    return define_eval_request(cases, define_eval_config(
        samples_per_case=samples, concurrency=concurrency, k_values=[1]))


async def _measure(rt, samples: int, concurrency: int) -> float:
    request = _request(samples, concurrency)
    start = time.perf_counter()
    artifact = await run_eval(rt, request)
    elapsed = time.perf_counter() - start
    assert artifact["passed"], "the benchmark eval should pass"
    return artifact["summary"]["samples"] / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=size(100, 2),
                        help="samples per case (4 cases)")
    parser.add_argument("--repeat", type=int, default=size(3, 1), help="best of N runs")
    parser.add_argument("--turn-latency-ms", type=float, default=5.0,
                        help="simulated provider latency per model turn for the second table")
    args = parser.parse_args()
    for latency in (0.0, args.turn_latency_ms):
        rt = _runtime(latency)
        asyncio.run(_measure(rt, size(5, 1), 4))  # warm-up: imports, first-run caches
        samples = args.samples if not latency else max(size(10, 1), args.samples // 4)
        best = {concurrency: max(asyncio.run(_measure(rt, samples, concurrency))
                                 for _ in range(args.repeat))
                for concurrency in (1, 4, 16)}
        rt.close()
        rows = [Row(f"samples/s at concurrency {c}", f"{rate:,.0f}/s")
                for c, rate in best.items()]
        if latency:  # waiting on a provider, concurrency must pay off
            rows.append(Row("concurrency 16 vs 1", f"{best[16] / best[1]:.1f}x",
                            bar="scales (> 1x)", passed=best[16] > best[1]))
        print_table(f"eval throughput, mock interpreter, {latency:g} ms per turn, "
                    f"{4 * samples} samples per run (best of {args.repeat})", rows)


if __name__ == "__main__":
    main()
