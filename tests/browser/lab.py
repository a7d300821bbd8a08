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
    """Open the notebook, wait until its kernel is connected, then Run All once.

    The toolbar's execution indicator reads "idle" before any kernel exists, and a
    Run All issued then is dropped (or opens a "Select Kernel" dialog). The status
    bar only says "<kernel> | Idle" once the kernel connection is up, so that is
    what we wait for; a single Run All then never runs a cell twice.
    """
    from playwright.sync_api import expect

    page.goto(lab.notebook_url(notebook))
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text(
        "Python 3 (ipykernel) | Idle", timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    expect(page.locator(".jp-InputPrompt").first).not_to_have_text("[ ]:", timeout=30_000)
