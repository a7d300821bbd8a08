"""Eval throughput: samples per second on the mock (``testing=``) interpreter.

Runs the same eval (4 cases x 100 samples, each sample a full coordinator run scored
by a trajectory and two final-response scorers) at concurrency 1, 4 and 16 and prints
samples/s. Usage::

    python bench/bench_evals.py [--samples 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import flowai_nb as fa
from flowai_nb.evals import (
    ResponseScorer,
    define_eval_config,
    define_eval_request,
    define_test_case,
    run_eval,
)


def _runtime():
    spec = fa.define_runtime(fa.define_tenant("bench", "1"), agents=[
        fa.define_coordinator("boss", model="mock", prompt="Answer briefly.")])
    return fa.create_runtime(spec, testing=fa.TestingConfig(mock_response="Stock is fine today."))


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
    parser.add_argument("--samples", type=int, default=100, help="samples per case (4 cases)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    rt = _runtime()
    asyncio.run(_measure(rt, 5, 4))  # warm-up: imports, first-run caches
    print(f"eval throughput, mock interpreter, {4 * args.samples} samples per run "
          f"(best of {args.repeat})")
    for concurrency in (1, 4, 16):
        best = max(asyncio.run(_measure(rt, args.samples, concurrency))
                   for _ in range(args.repeat))
        print(f"  concurrency {concurrency:>2}: {best:8.0f} samples/s")
    rt.close()


if __name__ == "__main__":
    main()
