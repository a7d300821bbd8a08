"""Every benchmark still runs: ``python -m bench --tiny`` end to end, rows well formed.

The benchmarks are not timed here (tiny sizes on a shared machine mean
nothing); this only keeps them from rotting: each ``bench/bench_*.py`` must
exit cleanly and print at least one row of the one table shape.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("metric", "flowai_nb", "peer", "peer value", "ratio", "bar", "holds")


def test_every_benchmark_runs_at_tiny_size_and_prints_well_formed_rows(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--tiny", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["tiny"] is True and results["failed"] == []
    names = {p.stem.removeprefix("bench_") for p in (ROOT / "bench").glob("bench_*.py")}
    assert {row["bench"] for row in results["rows"]} == names  # every file printed rows
    for row in results["rows"]:
        assert set(COLUMNS) <= set(row), row
        assert row["metric"] and row["flowai_nb"], row
        assert row["holds"] in ("", "yes", "NO") and row["held"] in (None, True, False), row
        assert row["ratio_value"] is None or row["ratio_value"] > 0, row
    assert "summary" in done.stdout and "row(s) hold their bar" in done.stdout
    for line in done.stdout.splitlines():  # the one summary table has every column
        if line.strip().startswith("metric"):
            assert line.split()[:2] == ["metric", "flowai_nb"]
