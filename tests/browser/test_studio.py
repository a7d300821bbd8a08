"""Studio in a real browser: `flowai-nb studio` on the demo app, driven by Debian chromium.

Each test starts the CLI as a user would (its own process, a fresh demo folder),
logs in through the printed URL, and clicks through the page. On failure a
screenshot lands in the test's tmp dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowai_nb.studio.demo import ORDERS, PROMPT

from .conftest import _free_port, stop_process

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect
REPO = Path(__file__).resolve().parents[2]


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLOWAI_NB_APPROVAL"}
    env["FLOWAI_NB_DEMO_DIR"] = str(folder)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def studio_cli(tmp_path):
    """`flowai-nb studio flowai_nb.studio.demo:app` in its own process; yields its login URL."""
    folder = tmp_path / "demo"
    with _studio("flowai_nb.studio.demo:app", _env(folder), tmp_path) as login:
        yield login, folder


@contextlib.contextmanager
def _studio(target: str, env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`flowai-nb studio TARGET` in its own process; yields its login URL."""
    log = (tmp_path / "studio.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowai_nb.cli", "studio", target,
         "--port", str(_free_port()), "--no-browser"],
        env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        login = None
        deadline = time.monotonic() + 60
        while login is None:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"studio exited: {(tmp_path / 'studio.log').read_text()}")
            if match := re.search(r"open: (http://\S+/login\?token=\S+)", line):
                login = match.group(1)
            if time.monotonic() > deadline:
                pytest.fail("studio printed no login URL")
        yield login
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture
def studio_page(browser, request, tmp_path, studio_cli):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:")) else None)
    login, folder = studio_cli
    page.goto(login)
    expect(page.get_by_label("Workspace")).to_have_value("lisbon")
    # Run is enabled once the workspace is ready
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()
    yield page, folder
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    context.close()
    assert not errors, errors
    assert not outside, f"requests left 127.0.0.1: {outside}"


def _orders(folder: Path) -> list[list[dict]]:
    path = folder / ORDERS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_chat_run_streams_then_approve_completes_and_dispatches_once(studio_page):
    page, folder = studio_page
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_role("button", name="Run", exact=True).click()
    run = page.locator(".st-run").first
    expect(run.locator(".fnb-text").first).to_contain_text("Let me ask the analyst.",
                                                          timeout=30_000)
    expect(run.locator(".fnb-status")).to_have_text("waiting for approval", timeout=30_000)
    card = page.locator(".st-card").first
    expect(card).to_contain_text("lisbon-restock@v1")
    assert _orders(folder) == []  # nothing dispatched while the card waits
    card.get_by_role("button", name="Approve").click()
    expect(run.locator(".fnb-status")).to_have_text("completed", timeout=30_000)
    expect(card.locator(".fnb-decision")).to_have_text("decision: approve")
    expect(run.locator(".fnb-final")).to_contain_text("put to you for approval")
    orders = _orders(folder)
    assert len(orders) == 1 and [a["payload"]["sku"] for a in orders[0]] == [
        "BAK-031-S", "BAK-033-L", "COF-012-L"]
    expect(page.locator("#st-threads .st-pill").first).to_have_text("completed")


def test_revise_with_feedback_shows_v2_with_a_diff(studio_page):
    page, folder = studio_page
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_role("button", name="Run", exact=True).click()
    first = page.locator(".st-card").first
    expect(first.get_by_role("button", name="Revise")).to_be_enabled(timeout=30_000)
    first.get_by_label("Feedback").fill("smaller orders, please")
    first.get_by_role("button", name="Revise").click()
    second = page.locator(".st-card").nth(1)
    expect(second).to_contain_text("lisbon-restock@v2", timeout=30_000)
    diff = second.locator(".st-diff")
    expect(diff).to_contain_text("Changes from v1 to v2")
    expect(diff.locator("tr", has_text="action 1 units").locator("del")).to_have_text("20")
    expect(diff.locator("tr", has_text="action 1 units").locator("ins")).to_have_text("5")
    expect(first.locator(".fnb-decision")).to_have_text("decision: revise (smaller orders, please)")
    second.get_by_role("button", name="Approve").click()
    expect(page.locator(".st-run .fnb-status").first).to_have_text("completed", timeout=30_000)
    orders = _orders(folder)
    assert len(orders) == 1 and [a["payload"]["units"] for a in orders[0]] == [5, 9, 10]


_OTHER_PROCESS = textwrap.dedent("""
    import asyncio, sys
    from flowai_nb.studio.demo import make_runtime, PROMPT

    async def main():
        rt = make_runtime()
        async for event in rt.query(PROMPT, "from-a-script"):
            if event["type"] == "approval-required":
                print("waiting", event["approvalId"], flush=True)
            if event["type"] == "run-finish":
                print("finished", event["status"], flush=True)
        rt.close()

    asyncio.run(main())
""")


def test_a_run_from_another_process_appears_and_is_approved_here(studio_page):
    page, folder = studio_page
    other = subprocess.Popen([sys.executable, "-c", _OTHER_PROCESS], env=_env(folder),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().startswith("waiting ")
        pending = page.locator("#st-pending button", has_text="plan lisbon-restock@v1")
        expect(pending).to_be_visible(timeout=15_000)
        pending.click()
        expect(page.locator("#st-thread-title")).to_have_text("Thread from-a-script")
        run = page.locator(".st-run").first
        expect(run.locator(".fnb-text").first).to_contain_text("Let me ask the analyst.")
        run.locator(".st-card").get_by_role("button", name="Approve").click()
        out, err = other.communicate(timeout=60)
        assert out.strip() == "finished completed", err
        expect(run.locator(".fnb-status")).to_have_text("completed", timeout=15_000)
        assert len(_orders(folder)) == 1
    finally:
        if other.poll() is None:
            other.kill()


def test_traces_evals_and_data_tabs(studio_page):
    page, folder = studio_page
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_label("Prompt").press("Control+Enter")  # the keyboard runs it too
    card = page.locator(".st-card").first
    expect(card.get_by_role("button", name="Reject")).to_be_enabled(timeout=30_000)
    card.get_by_role("button", name="Reject").click()
    expect(page.locator(".st-run .fnb-status").first).to_have_text("completed", timeout=30_000)

    page.get_by_role("tab", name="Traces").click()
    page.locator("#st-traces button").first.click()
    steps = page.get_by_label("Steps")
    expect(steps.locator("tr", has_text="run_sql")).to_contain_text(" ms")
    expect(steps.locator("tr").nth(1)).to_contain_text("ops")
    expect(page.locator("#st-trace .fnb-span-row").first).to_be_visible()

    page.get_by_role("tab", name="Evals").click()
    page.get_by_role("button", name="Start eval").click()
    eval_box = page.locator("#st-eval")
    expect(eval_box.locator(".fnb-verdict")).to_be_visible(timeout=60_000)
    eval_box.locator(".fnb-sample-row").first.focus()
    page.keyboard.press("Enter")  # sample rows are reachable from the keyboard
    expect(page.locator(".st-eval-trace").get_by_label("Steps")).to_be_visible(timeout=15_000)

    page.get_by_role("tab", name="Data").click()
    expect(page.locator("#st-catalog")).to_contain_text("inventory")
    page.locator("#st-catalog li", has_text="stores").click()
    expect(page.locator("#st-catalog")).to_contain_text("opened_on")
    page.get_by_label("SQL (read-only)").fill("SELECT city FROM stores ORDER BY city")
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("#st-sql-result")).to_contain_text("Lisbon")
    page.get_by_label("SQL (read-only)").fill("DROP TABLE stores")
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("#st-sql-error")).not_to_be_empty()

    theme = "document.documentElement.dataset.theme"
    background = "getComputedStyle(document.body).backgroundColor"
    before = page.evaluate(theme), page.evaluate(background)
    page.get_by_role("button", name="Switch light or dark theme").click()
    after = page.evaluate(theme), page.evaluate(background)
    assert {before[0], after[0]} == {"light", "dark"} and before[1] != after[1]


def test_edit_an_action_in_the_studio_card_then_approve(studio_page, tmp_path):
    from .theme import assert_readable

    page, folder = studio_page
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_role("button", name="Run", exact=True).click()
    card = page.locator(".st-card").first
    expect(card.get_by_role("button", name="Approve")).to_be_enabled(timeout=30_000)
    card.locator("button.fnb-edit").first.click()
    editor = card.locator("textarea.fnb-edit-json")
    original = json.loads(editor.input_value())
    editor.fill(json.dumps({**original, "units": "lots"}))
    card.locator("button.fnb-approve").click()  # the server refuses it: 400, still pending
    expect(card.locator(".fnb-approval > .fnb-error")).to_contain_text("units")
    expect(card.locator(".fnb-decision")).to_have_text("waiting for a decision")
    assert _orders(folder) == []
    editor.fill(json.dumps({**original, "units": 5}))
    card.locator("input[type=checkbox]").nth(2).uncheck()
    expect(card.locator("button.fnb-approve")).to_have_text("Approve 2 of 3 with 1 edit")
    card.locator("button.fnb-approve").click()
    run = page.locator(".st-run").first
    expect(run.locator(".fnb-status")).to_have_text("completed", timeout=30_000)
    expect(card.locator(".fnb-edited .fnb-diff-old")).to_have_text(str(original["units"]))
    expect(card.locator(".fnb-edited .fnb-diff-new")).to_have_text("5")
    orders = _orders(folder)
    assert [[a["payload"]["units"] for a in call] for call in orders][0][0] == 5
    assert len(orders) == 1 and len(orders[0]) == 2
    for theme in ("light", "dark"):
        if page.evaluate("document.documentElement.dataset.theme") != theme:
            page.get_by_role("button", name="Switch light or dark theme").click()
        assert assert_readable(page, f"studio card ({theme})", ".st-card .flowai") > 10
        card.screenshot(path=str(tmp_path / f"studio-edited-{theme}.png"))


def test_agents_tab_lists_every_workspace_mcp_url(browser, tmp_path):
    from tests.studio.multi_app import DIR_ENV

    env = {**_env(tmp_path / "unused"), DIR_ENV: str(tmp_path)}
    with _studio("tests.studio.multi_app:app", env, tmp_path) as login:
        page = browser.new_page()
        try:
            page.goto(login)
            expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()
            page.get_by_label("Workspace").select_option("Zürich east")
            expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()
            page.get_by_role("tab", name="Agents").click()
            help_box = page.get_by_label("Connect over MCP")
            base = login.split("login?")[0]
            expect(help_box.locator("tr", has_text="main")).to_contain_text(f"{base}mcp/main")
            current = help_box.locator("tr[aria-current]")
            expect(current).to_contain_text(f"{base}mcp/Z%C3%BCrich%20east")
            expect(current).to_contain_text("Zürich east")
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            page.close()
