"""Approval cards and the run view in a real JupyterLab, clicked by headless chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .lab import open_and_run_all, write_notebook
from .theme import assert_readable, use_theme

pytestmark = pytest.mark.browser

SCENARIO = (Path(__file__).resolve().parents[1] / "jupyter" / "scenario.py").read_text()
RESULT_TIMEOUT = 60_000
REFUND_RUN = ("import flowai_nb.jupyter as fj\n"
              "dispatched = []\n"
              "rt = build_runtime(dispatched)\n"
              "h = fj.run(rt, 'refund order 42')\n"
              "h")


def scenario_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook that loads the extension and the refund scenario, then runs ``cells``."""
    return write_notebook(path, ["%load_ext flowai_nb", SCENARIO, *cells])


def _result(page, text: str) -> None:
    expect(page.locator(".jp-OutputArea-output", has_text=text).first).to_be_visible(
        timeout=RESULT_TIMEOUT)


def test_click_approve_completes_the_run_and_dispatches_once(page, lab, tmp_path) -> None:
    notebook = scenario_notebook(tmp_path / "approve.ipynb", [
        REFUND_RUN,
        "h  # a second view of the running run: it starts from a snapshot",
        "await h\nprint(f'RESULT dispatched={len(dispatched)} status={h.status}')",
    ])
    open_and_run_all(page, lab, notebook)
    approve = page.locator("button.fnb-approve")
    expect(approve).to_have_count(2, timeout=RESULT_TIMEOUT)
    expect(page.locator(".fnb-run .fnb-status")).to_have_text(["waiting for approval"] * 2)
    expect(page.locator(".fnb-approval .fnb-asked").first).to_contain_text("order_id")
    approve.first.click()
    _result(page, "RESULT dispatched=1 status=completed")
    expect(page.locator(".fnb-approval .fnb-decision")).to_have_text(["decision: approve"] * 2)
    expect(page.locator(".fnb-run .fnb-status")).to_have_text(["completed"] * 2)
    expect(page.locator(".fnb-run .fnb-root .fnb-final")).to_have_text(["Refund done."] * 2)
    expect(page.locator(".fnb-plan tr.fnb-action").first).to_have_attribute(
        "data-status", "executed")
    assert page.errors == []


def test_revise_with_feedback_reaches_the_planner(page, lab, tmp_path) -> None:
    notebook = scenario_notebook(tmp_path / "revise.ipynb", [
        "import json\nimport flowai_nb.jupyter as fj\n"
        "dispatched, planner_saw = [], []\n"
        "rt = build_runtime(dispatched, revise=True)\n"
        "play = rt.interpreter.turn\n"
        "def recording(request):\n"
        "    if request.agent == 'planner':\n"
        "        planner_saw.append(json.dumps(request.messages))\n"
        "    return play(request)\n"
        "rt.interpreter.turn = recording\n"
        "h = fj.run(rt, 'refund order 42')\n"
        "h",
        "await h\n"
        "print(f'RESULT feedback_seen={\"only 10 EUR\" in planner_saw[-1]} '\n"
        "      f'dispatched={len(dispatched)} status={h.status}')",
    ])
    open_and_run_all(page, lab, notebook)
    first = page.locator(".fnb-approval").first
    expect(first.locator("button.fnb-revise")).to_be_visible(timeout=RESULT_TIMEOUT)
    first.locator("textarea.fnb-feedback").fill("only 10 EUR")
    first.locator("button.fnb-revise").click()
    expect(first.locator(".fnb-decision")).to_have_text("decision: revise (only 10 EUR)")
    second = page.locator(".fnb-approval").nth(1)
    expect(second.locator(".fnb-asked")).to_contain_text("10", timeout=RESULT_TIMEOUT)
    second.locator("button.fnb-approve").click()
    _result(page, "RESULT feedback_seen=True dispatched=1 status=completed")
    assert page.errors == []


def test_edit_a_payload_in_the_live_card_then_approve(page, lab, tmp_path) -> None:
    notebook = scenario_notebook(tmp_path / "edit.ipynb", [
        REFUND_RUN,
        "await h\nimport json\n"
        "print(f'RESULT payloads={json.dumps([a[\"payload\"] for a in dispatched[0]])} '\n"
        "      f'calls={len(dispatched)} status={h.status}')",
    ])
    open_and_run_all(page, lab, notebook)
    card = page.locator(".fnb-approval")
    expect(card.locator("button.fnb-edit")).to_be_visible(timeout=RESULT_TIMEOUT)
    card.locator("button.fnb-edit").click()
    editor = card.locator("textarea.fnb-edit-json")
    editor.fill('{"order_id": 42, "amount": 12,5}')
    expect(card.locator(".fnb-edit-error")).to_contain_text("invalid JSON")
    expect(card.locator("button.fnb-approve")).to_be_disabled()
    # valid JSON the plan type refuses: the kernel says why, the card stays pending
    editor.fill('{"order_id": "forty-two", "amount": 12.5}')
    card.locator("button.fnb-approve").click()
    expect(card.locator(":scope > .fnb-error")).to_contain_text(
        "edited payload of action 0 (refund) is invalid", timeout=RESULT_TIMEOUT)
    expect(card.locator(":scope > .fnb-error")).to_contain_text("order_id")
    expect(card.locator(".fnb-decision")).to_have_text("waiting for a decision")
    # typed as strings, which the plan type accepts as 42 and 12.5: once approved, the card
    # shows the values as recorded (what the dispatcher got), not as typed
    editor.fill('{"order_id": "42", "amount": "12.50"}')
    expect(card.locator("button.fnb-approve")).to_have_text("Approve with 1 edit")
    card.locator("button.fnb-approve").click()
    _result(page, 'RESULT payloads=[{"order_id": 42, "amount": 12.5}] calls=1 status=completed')
    expect(card.locator(".fnb-decision")).to_have_text("decision: approve")
    expect(card.locator(".fnb-edited .fnb-label")).to_have_text(
        "1 action edited before approving")
    expect(card.locator(".fnb-edited td").first).to_have_text("#1 amount")  # 42 is no edit
    expect(card.locator(".fnb-edited tr")).to_have_count(1)
    expect(card.locator(".fnb-edited .fnb-diff-old")).to_have_text("19.5")
    expect(card.locator(".fnb-edited .fnb-diff-new")).to_have_text("12.5")
    shown = card.locator(".fnb-payload-view")
    expect(shown).to_contain_text("edited")
    expect(shown.locator("pre")).to_have_text(["42", "12.5"])
    expect(card).not_to_contain_text("12.50")
    plan_row = page.locator(".fnb-plan tr.fnb-action").first
    expect(plan_row).to_have_attribute("data-status", "executed")
    expect(plan_row).to_contain_text("edited")
    expect(plan_row).to_contain_text("12.5")
    expect(plan_row).not_to_contain_text("12.50")
    for theme in ("light", "dark"):
        use_theme(page, theme)
        assert assert_readable(page, f"edited approval ({theme})") > 10
        card.screenshot(path=str(tmp_path / f"edited-card-{theme}.png"))
    use_theme(page, "light")  # the theme is a user setting: leave it as we found it
    assert page.errors == []


def test_10000_streamed_deltas_render_exactly(page, lab, tmp_path) -> None:
    deltas = [f"tok{i} " + ("\n" if i % 97 == 0 else "") for i in range(10_000)]
    notebook = scenario_notebook(tmp_path / "stream.ipynb", [
        "import json\nimport flowai_nb.jupyter as fj\n"
        "rt = build_runtime([])\n"
        "deltas = [f'tok{i} ' + ('\\n' if i % 97 == 0 else '') for i in range(10_000)]\n"
        "h = fj.start(rt.query(json.dumps({'script': [{'text': deltas}]}), 't-stream'))\n"
        "h",
        "await h\nprint(f'RESULT status={h.status} chars={len(h.text)} '\n"
        "      f'batches={h.view.messages_sent}')",
    ])
    open_and_run_all(page, lab, notebook)
    _result(page, f"RESULT status=completed chars={len(''.join(deltas))}")
    # The final text renders as markdown (one paragraph per blank-line block, line breaks
    # kept), folded behind "show more" because it is long.
    final = page.locator(".fnb-run .fnb-root .fnb-final")
    expect(final).to_have_count(1)
    expect(page.locator(".fnb-run .fnb-status")).to_have_text("completed")
    shown = final.locator(".fnb-md").evaluate("node => node.innerText")
    assert shown.split() == "".join(deltas).split()
    expect(final.locator("button.fnb-more")).to_have_text("show more")
    # Expanded, the text is far taller than the window: the view scrolls inside its own
    # box and its header (status, elapsed, Stop) stays pinned at the top.
    final.locator("button.fnb-more").click()
    view = page.locator(".fnb-run").first
    assert view.evaluate("node => node.scrollHeight") > 3 * page.viewport_size["height"]
    final.locator(".fnb-md p").last.scroll_into_view_if_needed()
    assert view.evaluate("node => node.scrollTop") > 0
    head = page.locator(".fnb-run-head").first
    assert abs(head.bounding_box()["y"] - view.bounding_box()["y"]) < 2
    assert 0 <= head.bounding_box()["y"] < page.viewport_size["height"]
    expect(head.locator(".fnb-elapsed")).not_to_be_empty()
    assert page.errors == []


def test_the_stop_button_cancels_a_waiting_run(page, lab, tmp_path) -> None:
    notebook = scenario_notebook(tmp_path / "stop.ipynb", [
        REFUND_RUN,
        "await h\nprint(f'RESULT dispatched={len(dispatched)} status={h.status}')",
    ])
    open_and_run_all(page, lab, notebook)
    expect(page.locator(".fnb-run .fnb-status")).to_have_text("waiting for approval",
                                                          timeout=RESULT_TIMEOUT)
    stop = page.locator(".fnb-run button.fnb-stop")
    # the click lands at once (the view may then re-render with the run's final state)
    assert stop.evaluate("button => { button.click(); return button.textContent; }") == \
        "Stopping…"
    _result(page, "RESULT dispatched=0 status=cancelled")
    expect(page.locator(".fnb-run .fnb-status")).to_have_text("cancelled")
    expect(stop).to_be_hidden()
    assert page.errors == []
