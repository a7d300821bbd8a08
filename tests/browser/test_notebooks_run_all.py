"""Every example notebook passes "Run All" in a real JupyterLab, in the light and the dark
theme: no cell left at ``[*]``, no error output, every widget readable (text contrast
>= 4.5:1). Screenshots of every widget in both themes land in the test's tmp dir.

One JupyterLab serves every notebook; each notebook opens once, runs in the light
theme, then the kernel restarts and runs everything again in the dark theme.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from .lab import open_and_run_all, restart_and_run_all, wait_until_every_cell_ran
from .theme import assert_readable, screenshot_widgets, use_theme

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
_BAD_STDERR = re.compile(r"Traceback|Task was destroyed|Error|Exception|cannot enter context")


def _check(page, state: dict, where: str) -> None:
    assert state["errors"] == [], f"{where}: error outputs: {state['errors']}"
    bad = [text for text in state["stderr"] if _BAD_STDERR.search(text)]
    assert bad == [], f"{where}: stderr: {bad}"
    assert page.errors == [], f"{where}: page errors: {page.errors}"


@pytest.mark.parametrize("notebook", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_run_all_finishes_every_cell_in_both_themes(page, lab, tmp_path, notebook) -> None:
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    stem = Path(notebook).stem
    open_and_run_all(page, lab, work / notebook, theme="light")
    _check(page, wait_until_every_cell_ran(page), f"{stem} (light)")
    light = screenshot_widgets(page, tmp_path / "shots", f"{stem}-light")
    checked = assert_readable(page, f"{stem} (light)") if light else 0

    use_theme(page, "dark")
    restart_and_run_all(page)
    _check(page, wait_until_every_cell_ran(page), f"{stem} (dark)")
    dark = screenshot_widgets(page, tmp_path / "shots", f"{stem}-dark")
    if dark:
        checked += assert_readable(page, f"{stem} (dark)")
    assert len(dark) == len(light)  # the same widgets, whatever the theme
    use_theme(page, "light")  # the theme is a user setting: leave it as we found it
    print(f"{stem}: {len(light)} widgets per theme, {checked} texts checked, "
          f"screenshots in {tmp_path / 'shots'}")
