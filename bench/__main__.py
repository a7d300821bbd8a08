"""Run the benchmark suite (SPEC §17): ``python -m bench [name ...]``.

Each benchmark runs in its own fresh Python process, one after the other, and
prints its own table. Names select a subset (``python -m bench streaming
approvals``). Benchmarks are informational: the exit status is 0 even when a
bar is missed, so they never gate CI.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("import", "orchestration", "streaming", "approvals", "evals", "widgets", "data",
              "mcp")


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default); always returns 0."""
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
        return 2
    started = time.perf_counter()
    crashed: list[str] = []
    verdicts: list[str] = []
    for name in argv or BENCHMARKS:
        script = HERE / f"bench_{name}.py"
        print(f"\n=== {name} ({script.name})", flush=True)
        verdicts += _run(script, crashed)
    missed = [line for line in verdicts if line.endswith("FAIL")]
    print(f"\nbenchmarks finished in {time.perf_counter() - started:.0f} s: "
          f"{len(verdicts) - len(missed)} row(s) meet their bar, {len(missed)} miss it"
          + (f"; crashed: {', '.join(crashed)}" if crashed else ""))
    for line in missed:
        print(f"  missed: {line}")
    return 0


def _run(script: Path, crashed: list[str]) -> list[str]:
    """Run one benchmark script, echoing its output; return its table rows with a verdict."""
    verdicts = []
    with subprocess.Popen([sys.executable, str(script)], cwd=HERE.parent, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.rstrip().endswith(("PASS", "FAIL")):
                verdicts.append(" ".join(line.split()))
    if proc.returncode != 0:
        crashed.append(script.stem)
    return verdicts


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
