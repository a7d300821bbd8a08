"""Helpers for the browser tests: write a notebook, open it and Run All."""

from __future__ import annotations

from pathlib import Path

import nbformat


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code cells (python3 kernel)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


def open_and_run_all(page, lab, notebook: Path) -> None:
    """Open the notebook and Run All, retrying while the kernel is still connecting.

    A Run All issued before the kernel connects is silently dropped (the first
    prompt stays ``[ ]:``), so it is repeated until the first cell starts.
    """
    from playwright.sync_api import expect

    page.goto(lab.notebook_url(notebook))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    prompt = page.locator(".jp-InputPrompt").first
    for attempt in range(12):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            # Longer waits on later attempts: on a loaded machine an accepted Run All can
            # take a while to mark the cells, and a second Run All would run them twice.
            expect(prompt).not_to_have_text("[ ]:", timeout=3000 + 2000 * attempt)
            return
        except AssertionError:
            page.keyboard.press("Escape")
    raise AssertionError("Run All never started the notebook")
