"""Run the benchmark suite (SPEC §17): ``python -m bench [--tiny] [--json PATH] [name ...]``.

Every ``bench/bench_NAME.py`` is a benchmark (drop a file in and it runs).
Each runs in its own fresh Python process, one after the other, and prints
its own tables; then one summary table gathers every row (metric, flowai_nb,
peer, peer value, ratio, bar, holds) and the rows are written as JSON
(``bench-results.json`` unless ``--json`` says otherwise). Names select a
subset (``python -m bench streaming approvals``); ``--tiny`` runs every
benchmark at smoke-test size (what the test suite does: the numbers mean
nothing there). Benchmarks are informational: the exit status is 0 even when
a bar is missed, and 1 only when a benchmark crashed or printed no rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import COLUMNS, RESULTS_ENV, SIZE_ENV, format_table  # noqa: E402


def benchmarks() -> list[str]:
    """The names of every ``bench_NAME.py`` beside this file, sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default); print the summary and write the JSON."""
    known = benchmarks()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name", help=f"one of {known}")
    parser.add_argument("--tiny", action="store_true", help="smoke-test sizes")
    parser.add_argument("--json", default="bench-results.json", help="where to write the rows")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in known]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {known}")
        return 2
    started = time.perf_counter()
    rows: list[dict] = []
    failed: list[str] = []
    for name in args.names or known:
        script = HERE / f"bench_{name}.py"
        print(f"\n=== {name} ({script.name})", flush=True)
        got = _run(script, tiny=args.tiny)
        if got is None:
            failed.append(name)
        else:
            rows += got
    print(f"\nsummary ({time.perf_counter() - started:.0f} s"
          f"{', tiny sizes: not measurements' if args.tiny else ''})")
    for line in format_table([[r[c] for c in COLUMNS] for r in rows]):
        print("  " + line)
    missed = [r for r in rows if r["held"] is False]
    print(f"{sum(r['held'] is True for r in rows)} row(s) hold their bar, {len(missed)} miss it"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    Path(args.json).write_text(json.dumps(
        {"tiny": args.tiny, "failed": failed, "rows": rows},
        indent=1) + "\n", encoding="utf-8")
    print(f"rows written to {args.json}")
    return 1 if failed else 0


def _run(script: Path, *, tiny: bool) -> list[dict] | None:
    """Run one benchmark script, echoing its output; its rows, or None if it failed."""
    with tempfile.TemporaryDirectory() as tmp:
        sink = Path(tmp) / "rows.jsonl"
        env = {**os.environ, RESULTS_ENV: str(sink)}
        if tiny:
            env[SIZE_ENV] = "tiny"
        with subprocess.Popen([sys.executable, str(script)], cwd=HERE.parent, text=True,
                              env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line, end="", flush=True)
        rows = [json.loads(line) for line in sink.read_text().splitlines()] \
            if sink.exists() else []
    if proc.returncode != 0 or not rows:
        print(f"  !! {script.name} " + (f"exited with status {proc.returncode}"
                                        if proc.returncode else "printed no rows"))
        return None
    return rows


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
