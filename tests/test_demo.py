"""`make demo`'s main job runs offline, pauses for approval and dispatches exactly once."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_an_approved_plan_end_to_end() -> None:
    out = subprocess.run([sys.executable, "-m", "flowai_nb.demo"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any("approval required: plan lisbon-restock@v1" in line for line in lines)
    assert any("approving on your behalf" in line for line in lines)
    assert "■ run completed" in out.stdout
    dispatched = [line for line in lines if line.startswith("dispatched ")]
    assert dispatched and dispatched[0].startswith("dispatched 3 action(s)")
    assert out.stdout.index("approval required") < out.stdout.index("executing")
