"""A stored notebook opened from disk, before anything runs, reads well: every widget shows
its stored static form (the final state of runs, plans and approval cards), never a
stale embedded widget or "Error displaying widget". Screenshots land in the tmp dir.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_an_approvals_notebook_opened_from_disk_shows_its_static_forms(page, lab,
                                                                        tmp_path) -> None:
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    page.goto(lab.notebook_url(work / "02-approvals-in-the-notebook.ipynb"))
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text(
        "Python 3 (ipykernel) | Idle", timeout=60_000)
    outputs = page.locator(".jp-OutputArea-output")
    expect(outputs.filter(has_text="Approved · plan").first).to_be_visible()
    expect(outputs.filter(has_text="Sent back for revision · plan").first).to_be_visible()
    expect(outputs.filter(has_text="flowai run · completed").first).to_be_visible()
    page.wait_for_timeout(1000)  # a widget renderer would have replaced its output by now
    for stale in ("Error displaying widget", "Loading widget"):
        expect(page.get_by_text(stale)).to_have_count(0)
    assert page.locator(".fnb-approval").count() == 0  # no embedded (stale) live card
    card = outputs.filter(has_text="Sent back for revision · plan").first
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(tmp_path / "stored-revise-card.png"))
    assert page.errors == []
