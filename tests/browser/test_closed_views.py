"""Results survive the clean-up cell: notebook 03 closes its catalog view and its sales grid,
then the runtime, yet after Run All (light and dark theme) and after saving and reloading
the page, the grid's last page and the catalog are still on the page, marked closed.
Screenshots of both land in the test's tmp dir.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .lab import open_and_run_all, restart_and_run_all, wait_until_every_cell_ran
from .theme import assert_readable, use_theme

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _closed_views_are_visible(page, where: str, shots: Path) -> None:
    grid = page.locator(".jp-OutputArea-output").filter(has_text="sales · closed")
    expect(grid, where).to_have_count(1)
    expect(grid, where).to_be_visible()
    rows = grid.locator("tbody tr")
    expect(rows, where).to_have_count(10)  # the last page the grid showed: rows 2,991–3,000
    expect(rows.first.locator("td").first, where).to_have_text("2991")
    expect(rows.last.locator("td").first, where).to_have_text("3000")
    expect(grid, where).to_contain_text("rows 2,991–3,000 of 3,000")
    for row in range(10):
        assert rows.nth(row).is_visible(), f"{where}: grid row {row} is not visible"
    catalog = page.locator(".jp-OutputArea-output").filter(has_text="data catalog · 4 tables")
    expect(catalog, where).to_contain_text("closed")
    expect(catalog.get_by_role("cell", name="reorder_point", exact=True), where).to_be_visible()
    # the run view is still live after rt.close(): its header shows how the run ended
    expect(page.locator(".flowai").filter(has_text="3 actions dispatched").first,
           where).to_be_visible()
    assert_readable(page, where)
    shots.mkdir(parents=True, exist_ok=True)
    for name, output in (("grid", grid), ("catalog", catalog)):
        output.scroll_into_view_if_needed()
        output.screenshot(path=str(shots / f"{where.replace(' ', '-')}-{name}.png"))


def test_closed_data_views_keep_their_last_page_through_run_all_and_reload(
        page, lab, tmp_path) -> None:
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    notebook = work / "03-data-agent.ipynb"
    shots = tmp_path / "shots"
    open_and_run_all(page, lab, notebook, theme="light")
    wait_until_every_cell_ran(page)
    _closed_views_are_visible(page, "light", shots)

    use_theme(page, "dark")
    restart_and_run_all(page)
    wait_until_every_cell_ran(page)
    _closed_views_are_visible(page, "dark", shots)

    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=15_000)
    page.reload()
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text(
        "Python 3 (ipykernel) | Idle", timeout=60_000)
    _closed_views_are_visible(page, "dark after reload", shots)
    assert page.errors == []
    use_theme(page, "light")  # the theme is a user setting: leave it as we found it
    print(f"screenshots in {shots}")
