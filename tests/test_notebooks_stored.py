"""The example notebooks are stored without live widget state.

Saved widget state embeds every widget's ES module and CSS, frozen at the moment of
saving: as soon as ``widgets/`` changes, a notebook opened from disk renders an old
widget (a stale approval card, say). So notebooks are stored with each widget's static
form only (text/plain, text/html: the final state of runs, cards and grids), which
``scripts/save_notebooks.py`` writes. Live widgets come back on Run All.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
FIX = "re-save it with `python scripts/save_notebooks.py notebooks/{name}`"


def _saver():
    spec = importlib.util.spec_from_file_location("save_notebooks",
                                                  ROOT / "scripts" / "save_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_a_stored_notebook_embeds_no_widget_state_or_module_code(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    fix = FIX.format(name=path.name)
    assert "widgets" not in nb["metadata"], (
        f"{path.name} stores widget state (the widgets' ES modules as of its last save, "
        f"stale once widgets/ changes); {fix}")
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert WIDGET_VIEW not in data, (
                f"{path.name} cell {index} stores a live widget view, which reads 'Error "
                f"displaying widget: model not found' without its state; {fix}")
            stored = json.dumps(output)
            for marker in ('"_esm"', "_anywidget_id", "export default"):
                assert marker not in stored, (
                    f"{path.name} cell {index} stores widget module code ({marker}); {fix}")
            if output.get("output_type") in ("display_data", "execute_result"):
                assert "text/plain" in data, f"{path.name} cell {index}: no text form"


def test_the_saver_strips_state_and_views_but_keeps_the_static_forms() -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    cell = nbformat.v4.new_code_cell("card")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "ApprovalCard(...)", "text/html": "<div>Approved</div>",
        WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": "abc"}})]
    nb.cells = [cell]
    _saver().strip_live_state(nb)
    assert "widgets" not in nb.metadata
    assert dict(nb.cells[0].outputs[0].data) == {"text/plain": "ApprovalCard(...)",
                                                 "text/html": "<div>Approved</div>"}
