"""Import time: ``import flowai_nb`` and ``%load_ext flowai_nb`` in fresh interpreters.

Each measurement runs in a new Python process and times only the import (or
the magic, after IPython itself is imported), median of ``--repeat`` runs,
alternating between the workloads. "first create_runtime" adds what a user
pays next: the names ``flowai_nb`` loads lazily (the engine, the runtime) on
a first ``define_runtime`` + ``create_runtime``. The peers' import times are
shown for scale. SPEC §17 bar: under 0.5 s, heavy dependencies imported lazily.
Usage::

    python bench/bench_import.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from _harness import PEER_HINT, Row, print_table, size

BAR = 0.5
HEAVY = ("pandas", "numpy", "duckdb", "anthropic", "ipywidgets", "anywidget", "IPython",
         "httpx", "logfire")

_IMPORT = """
import json, sys, time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "modules": [m for m in {heavy!r} if m in sys.modules]}}))
"""

_LOAD_EXT = """
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
before = set(sys.modules)
start = time.perf_counter()
shell.run_line_magic("load_ext", {module!r})
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "loaded": {module!r} in shell.extension_manager.loaded,
                   "modules": [m for m in {heavy!r} if m in sys.modules and m not in before]}}))
"""

_FIRST_RUNTIME = """
import json, sys, time
start = time.perf_counter()
import flowai_nb as fa
spec = fa.define_runtime(fa.define_tenant("bench", "1"),
                         agents=[fa.define_coordinator("c", model="m", prompt="p")],
                         providers={{"scripted": {{"scripts": {{"c": [{{"text": "ok"}}]}}}}}})
runtime = fa.create_runtime(spec, interpreter="scripted")
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "modules": [m for m in {heavy!r} if m in sys.modules]}}))
"""

# name: (code, extra environment, SPEC bar applies)
WORKLOADS: dict[str, tuple[str, dict[str, str], bool]] = {
    "import flowai_nb": (_IMPORT.format(module="flowai_nb", heavy=HEAVY), {}, True),
    "import flowai_nb, no pydantic plugins": (
        _IMPORT.format(module="flowai_nb", heavy=HEAVY),
        {"PYDANTIC_DISABLE_PLUGINS": "__all__"}, True),
    "import flowai_nb + first create_runtime": (_FIRST_RUNTIME.format(heavy=HEAVY), {}, True),
    "%load_ext flowai_nb": (_LOAD_EXT.format(module="flowai_nb", heavy=HEAVY), {}, True),
    "%load_ext flowai_nb.jupyter": (
        _LOAD_EXT.format(module="flowai_nb.jupyter", heavy=HEAVY), {}, False),
}
PEERS = {"import langgraph.graph": "langgraph.graph", "import pydantic_ai": "pydantic_ai"}


def _once(code: str, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["(no output)"]
        return {"error": lines[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(repeat: int = 5) -> tuple[list[Row], list[str]]:
    """Run every workload ``repeat`` times in fresh processes; return rows and notes."""
    runs = {name: (code, env) for name, (code, env, _) in WORKLOADS.items()}
    runs |= {name: (_IMPORT.format(module=module, heavy=HEAVY), {})
             for name, module in PEERS.items()}
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, (code, env) in runs.items():
            results[name].append(_once(code, env))

    peer_seconds = {name: _median(results[name]) for name in PEERS}
    rows: list[Row] = []
    notes: list[str] = []
    for name, (_code, _env, barred) in WORKLOADS.items():
        first = results[name][0]
        if "error" in first or first.get("loaded") is False:
            problem = first.get("error") or f"{name.split()[-1]} is not an IPython extension"
            rows.append(Row(name, "error", bar=f"< {BAR} s" if barred else "",
                            passed=False if barred else None))
            notes.append(f"{name}: {problem}")
            continue
        ours = _median(results[name])
        bar = f"< {BAR} s" if barred else ""
        rows.append(Row(name, f"{ours:.3f} s", bar=bar, passed=ours < BAR if barred else None))
        if first["modules"]:
            notes.append(f"{name} loaded {', '.join(first['modules'])}")
    ours = _median(results["import flowai_nb"]) if "error" not in \
        results["import flowai_nb"][0] else None
    for name, seconds in peer_seconds.items():
        if seconds is None:
            rows.append(Row("import (for scale)", "error" if ours is None else f"{ours:.3f} s",
                            name, PEER_HINT))
        elif ours is not None:
            rows.append(Row("import (for scale)", f"{ours:.3f} s", name, f"{seconds:.3f} s",
                            seconds / ours))
    return rows, notes


def _median(samples: list[dict]) -> float | None:
    seconds = [s["seconds"] for s in samples if "seconds" in s]
    return statistics.median(seconds) if seconds else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=size(5, 1),
                        help="fresh processes per workload")
    args = parser.parse_args()
    rows, notes = measure(args.repeat)
    notes.append("'no pydantic plugins' sets PYDANTIC_DISABLE_PLUGINS=__all__: installed "
                 "plugins (logfire, pulled in by pydantic-ai) load when the first model class "
                 "is built")
    print_table(f"import time in fresh processes, median of {args.repeat} "
                f"(ratio = peer time / flowai_nb time)", rows, notes)


if __name__ == "__main__":
    main()
