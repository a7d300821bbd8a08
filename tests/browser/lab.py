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


def open_and_run_all(page, lab, notebook: Path, theme: str | None = None) -> None:
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
    if theme is not None:
        from .theme import use_theme

        use_theme(page, theme)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    expect(page.locator(".jp-InputPrompt").first).not_to_have_text("[ ]:", timeout=30_000)


def restart_and_run_all(page) -> None:
    """Kernel > Restart Kernel and Run All Cells…, confirmed."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").first.click()
    page.locator(".jp-Dialog button", has_text="Restart").click()


_PROGRESS_JS = """
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.model.cells;
  const result = { waiting: 0, errors: [], stderr: [], busy: false };
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== "code" || !cell.sharedModel.getSource().trim()) continue;
    if (cell.executionCount === null) result.waiting += 1;
    for (const out of cell.sharedModel.toJSON().outputs || []) {
      if (out.output_type === "error") result.errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
      if (out.output_type === "stream" && out.name === "stderr") {
        result.stderr.push(`cell ${i}: ${[].concat(out.text).join("").slice(0, 300)}`);
      }
    }
  }
  result.starred = [...document.querySelectorAll(".jp-CodeCell .jp-InputPrompt")]
    .filter((p) => p.textContent.includes("[*]")).length;
  result.busy = panel.sessionContext.session?.kernel?.status !== "idle";
  return result;
}
"""


def wait_until_every_cell_ran(page, timeout_s: float = 240) -> dict:
    """Wait until every code cell has an execution count, no prompt shows ``[*]`` and the
    kernel is idle; return the error and stderr outputs seen. Fails with the cells still
    waiting after ``timeout_s``."""
    import time

    deadline = time.monotonic() + timeout_s
    state: dict = {}
    settled = 0
    while time.monotonic() < deadline:
        state = page.evaluate(_PROGRESS_JS)
        done = state["waiting"] == 0 and state["starred"] == 0 and not state["busy"]
        settled = settled + 1 if done else 0
        if settled >= 2:  # idle twice in a row: no cell is about to start
            return state
        page.wait_for_timeout(500)
    raise AssertionError(f"Run All did not finish in {timeout_s:.0f} s: {state}")
