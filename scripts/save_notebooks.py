"""Re-execute the example notebooks and store their outputs in the repository's form.

    .venv/bin/python scripts/save_notebooks.py                  # every notebooks/*.ipynb
    .venv/bin/python scripts/save_notebooks.py notebooks/03-data-agent.ipynb

Each notebook runs top to bottom in a fresh kernel of this environment (nbclient, run
from ``notebooks/``, offline: no API key, no headless approval default). The stored form
keeps every output's text/plain and text/html, which for the widgets are their static
forms, brought up to date when a run ends or a widget closes. It drops what only a live
kernel can show: the saved widget state (which would embed every widget's ES module and
CSS, stale as soon as ``widgets/`` changes) and the widget-view outputs pointing at it,
which without that state would read "Error displaying widget: model not found".
``tests/test_notebooks_stored.py`` checks the stored form.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def strip_live_state(nb) -> None:
    """Drop the saved widget state and the widget-view outputs (in place)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)


def save(path: Path) -> None:
    """Execute ``path`` and write it back in the stored form."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    strip_live_state(nb)
    nbformat.write(nb, path)


def main(argv: list[str]) -> int:
    for name in ("ANTHROPIC_API_KEY", "FLOWAI_NB_APPROVAL"):
        os.environ.pop(name, None)
    paths = [Path(a).resolve() for a in argv] or sorted(NOTEBOOKS.glob("*.ipynb"))
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        save(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
