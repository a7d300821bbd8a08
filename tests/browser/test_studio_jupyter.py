"""Studio as a Jupyter Server extension: /flowai-studio/ in a real JupyterLab, behind its login.

The session's JupyterLab (tests/browser/conftest.py) picks the extension up from
the config file the package installs (jupyter-config/), and serves the demo app
named by FLOWAI_STUDIO_APP.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from flowai_nb.studio.demo import PROMPT

from .conftest import TOKEN

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect


def _status(url: str, path: str) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read().decode(errors="replace")
    conn.close()
    return response.status, body


def test_studio_route_needs_jupyters_login(lab):
    status, body = _status(lab.url, "/flowai-studio/api/app")
    assert status in (302, 403), (status, body)
    assert "retail demo" not in body
    status, body = _status(lab.url, f"/flowai-studio/api/app?token={TOKEN}")
    assert status == 200 and '"retail demo"' in body, (
        f"{status}: is the server extension enabled? (pip install -e . installs "
        f"jupyter-config/): {body[:300]}")


def test_chat_and_approve_inside_jupyterlab(lab, page):
    page.goto(f"{lab.url}/flowai-studio/?token={TOKEN}")
    expect(page.get_by_label("Workspace")).to_have_value("lisbon", timeout=30_000)
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_role("button", name="Run", exact=True).click()
    run = page.locator(".st-run").first
    expect(run.locator(".fnb-text").first).to_contain_text("Let me ask the analyst.",
                                                          timeout=30_000)
    card = page.locator(".st-card").first
    card.get_by_role("button", name="Approve").click()  # a POST: Jupyter's XSRF check passes
    expect(run.locator(".fnb-status")).to_have_text("completed", timeout=30_000)
    expect(card.locator(".fnb-decision")).to_have_text("decision: approve")
    plan = page.evaluate(
        "fetch('api/workspaces/lisbon/plans/lisbon-restock@v1').then((r) => r.json())")
    assert plan["status"] == "executed"
    assert [h["status"] for h in plan["history"]].count("executed") == 1
    assert not page.errors
