"""The widgets' front ends replaying event sequences recorded from the engine.

No JupyterLab here: each widget's ES module runs in a blank chromium page against a
minimal stand-in for the anywidget model (traits, change events, custom messages),
fed with the engine's recorded events (``tests/fixtures/events``, never hand-written
dicts) and with trait values computed by the kernel-side fold of the same events.
Both themes' variables come from JupyterLab's own theme CSS, so the contrast check
sees the real colours.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from flowai_nb.engine.state import RunState
from flowai_nb.jupyter._assets import asset_text
from flowai_nb.jupyter._events import approval_promise, run_outcome

from .theme import assert_readable

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"

_HARNESS = """
<!DOCTYPE html>
<html><head><style>%(css)s</style></head>
<body class="jp-ThemedContainer" style="background: var(--jp-layout-color0, #fff)">
<div id="root"></div>
<script type="module">
  const listeners = new Map();
  const traits = %(traits)s;
  window.sent = [];
  const model = {
    get: (k) => traits[k],
    set: (k, v) => { traits[k] = v; },
    save_changes: () => {},
    send: (msg) => { window.sent.push(msg); },
    on: (name, cb) => { (listeners.get(name) || listeners.set(name, []).get(name)).push(cb); },
    off: () => {},
  };
  window.emit = (name, payload) => { for (const cb of listeners.get(name) || []) cb(payload); };
  window.setTrait = (k, v) => { traits[k] = v; window.emit(`change:${k}`); };
  const url = URL.createObjectURL(new Blob([%(esm)s], { type: "text/javascript" }));
  const widget = (await import(url)).default;
  widget.render({ model, el: document.getElementById("root") });
  window.ready = true;
</script></body></html>
"""


def _theme_css(theme: str) -> str:
    """JupyterLab's own theme variables (light or dark), as installed with it."""
    from jupyterlab.commands import get_app_dir

    name = "theme-light-extension" if theme == "light" else "theme-dark-extension"
    path = Path(get_app_dir()) / "themes" / "@jupyterlab" / name / "index.css"
    if not path.is_file():
        pytest.fail(f"JupyterLab's {theme} theme CSS not found at {path}")
    return path.read_text()


def _events(name: str) -> list[dict]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def blank(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    yield context
    context.close()


def _render(context, widget: str, traits: dict, theme: str = "light"):
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    css = _theme_css(theme) + asset_text("flowai.css")
    esm = asset_text("_common.js", f"{widget}.js")
    page.set_content(_HARNESS % {"css": css, "traits": json.dumps(traits),
                                 "esm": json.dumps(esm)})
    page.wait_for_function("() => window.ready === true")
    return page


def _run_traits(events: list[dict]) -> dict:
    state = RunState.from_events(events)
    return {"status": state.status, "events": events, "seq": 0, "error": "",
            "outcome": run_outcome(state), "text": state.text or "", "prompt": state.prompt}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_a_rejected_plan_reads_as_such_in_the_run_header(blank, theme, tmp_path) -> None:
    page = _render(blank, "run_view", _run_traits(_events("plan_rejected")), theme)
    head = page.locator(".fnb-run-head")
    expect(head.locator(".fnb-status")).to_have_text("completed")
    expect(head.locator(".fnb-outcome-text")).to_have_text("· plan rejected")
    assert "fnb-warn" in head.locator(".fnb-badge").get_attribute("class")  # not green
    expect(head.locator("button.fnb-stop")).to_be_hidden()
    assert assert_readable(page, f"run view ({theme})") > 10
    page.locator(".fnb-run").screenshot(path=str(tmp_path / f"rejected-{theme}.png"))
    assert page.errors == []


def test_tool_results_errors_and_step_timing_replay(blank) -> None:
    page = _render(blank, "run_view", _run_traits(_events("tools")))
    tools = page.locator("details.fnb-tool")
    expect(tools).to_have_count(2)
    expect(tools.nth(0).locator(".fnb-tool-state")).to_have_text("done")
    expect(tools.nth(0).locator("summary .fnb-step")).to_have_text("10 ms")  # from the ts
    expect(tools.nth(1).locator(".fnb-tool-state")).to_have_text("error")
    assert "fnb-tool-error" in tools.nth(1).get_attribute("class")
    tools.nth(1).locator("summary").click()
    expect(tools.nth(1).locator(".fnb-tool-result")).to_contain_text("warehouse API is down")
    expect(page.locator(".fnb-final")).to_have_text("3 units left.")
    assert page.errors == []


def test_live_batches_then_the_final_markdown(blank) -> None:
    events = _events("plan_approved")
    page = _render(blank, "run_view", {"status": "running", "events": [], "seq": -1,
                                       "error": "", "outcome": "", "text": "", "prompt": ""})
    assert page.evaluate("window.sent") == [{"type": "sync"}]  # asks for a snapshot first
    page.evaluate("(evs) => window.emit('msg:custom', {type: 'snapshot', seq: 0, events: evs})",
                  events[:15])
    expect(page.locator(".fnb-run-head .fnb-status")).to_have_text("waiting for approval")
    expect(page.locator(".fnb-run-head button.fnb-stop")).to_be_visible()
    page.evaluate("(evs) => window.emit('msg:custom', {type: 'batch', seq: 1, events: evs})",
                  events[15:])
    page.evaluate("() => window.setTrait('outcome', '2 actions dispatched')")
    expect(page.locator(".fnb-run-head .fnb-status")).to_have_text("completed")
    expect(page.locator(".fnb-run-head .fnb-outcome-text")).to_have_text("· 2 actions dispatched")
    final = RunState.from_events(events).text
    expect(page.locator(".fnb-final")).to_have_text(final)
    # a gap in the batch numbers asks for a fresh snapshot instead of drawing a hole
    page.evaluate("() => window.emit('msg:custom', {type: 'batch', seq: 5, events: []})")
    assert page.evaluate("window.sent").count({"type": "sync"}) == 2


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_approval_card_is_outcome_first_and_sends_partial(blank, theme, tmp_path) -> None:
    events = _events("plan_approved")
    state = RunState.from_events(events[:15])
    [approval] = state.approvals.values()
    page = _render(blank, "approval_card", {
        "approval_id": approval.approval_id, "kind": approval.kind, "target": approval.target,
        "agent": approval.agent, "payload": approval.payload, "previous": None,
        "promise": approval_promise(approval), "status": "pending", "outcome": "",
        "feedback": "", "partial": None, "decided_by": "", "result": "", "error": "",
        "context": {"runId": "run-1", "threadId": "thread-1", "prompt": state.prompt}}, theme)
    card = page.locator(".fnb-approval")
    expect(card.locator(".fnb-title")).to_contain_text("Approval needed")
    expect(card.locator(".fnb-outcome")).to_have_text(
        "Approve → executor dispatches 2 actions (restock, retire)")
    expect(card.locator(".fnb-context")).to_contain_text("thread thread-1")
    expect(card.locator(".fnb-actions tr.fnb-action td:first-child")).to_have_text(["1", "2"])
    assert assert_readable(page, f"pending card ({theme})") > 5  # buttons included
    card.screenshot(path=str(tmp_path / f"card-pending-{theme}.png"))
    card.locator("input[type=checkbox]").nth(1).uncheck()
    expect(card.locator("button.fnb-approve")).to_have_text("Approve 1 of 2")
    card.locator("button.fnb-approve").click()
    assert page.evaluate("window.sent") == [{"type": "decision", "outcome": "approve",
                                             "feedback": "", "partial": {"actions": [0]}}]
    page.evaluate("""() => { window.setTrait('outcome', 'approve');
        window.setTrait('decided_by', 'you (a click on this card)');
        window.setTrait('result', '1 action dispatched');
        window.setTrait('partial', {actions: [0]}); window.setTrait('status', 'decided'); }""")
    expect(card.locator(".fnb-title")).to_contain_text("Approved")
    expect(card.locator(".fnb-outcome")).to_have_text(
        "Approved by you (a click on this card) → 1 action dispatched")
    expect(card.locator("button.fnb-approve")).to_be_hidden()
    assert assert_readable(page, f"decided card ({theme})") > 5
    card.screenshot(path=str(tmp_path / f"card-decided-{theme}.png"))
    assert page.errors == []


def test_a_revised_plan_shows_what_changed(blank) -> None:
    events = _events("plan_approved")
    [approval] = RunState.from_events(events[:15]).approvals.values()
    before = json.loads(json.dumps(approval.payload))
    before["actions"][0]["payload"]["units"] = 25
    page = _render(blank, "approval_card", {
        "approval_id": "a", "kind": "plan", "target": approval.target, "agent": "executor",
        "payload": approval.payload, "previous": before, "promise": "", "status": "pending",
        "outcome": "", "feedback": "", "partial": None, "decided_by": "", "result": "",
        "error": "", "context": {}})
    diff = page.locator(".fnb-diff tr")
    expect(diff).to_have_count(1)
    expect(diff).to_contain_text("#1 units")
    expect(diff.locator(".fnb-diff-old")).to_have_text("25")
    expect(diff.locator(".fnb-diff-new")).to_have_text("10")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_an_action_edited_in_the_card_is_sent_and_shown_after_the_decision(
        blank, theme, tmp_path) -> None:
    events = _events("plan_approved")
    [approval] = RunState.from_events(events[:15]).approvals.values()
    page = _render(blank, "approval_card", {
        "approval_id": approval.approval_id, "kind": "plan", "target": approval.target,
        "agent": "executor", "payload": approval.payload, "previous": None,
        "promise": approval_promise(approval), "status": "pending", "outcome": "",
        "feedback": "", "partial": None, "decided_by": "", "result": "", "error": "",
        "context": {}}, theme)
    card = page.locator(".fnb-approval")
    approve = card.locator("button.fnb-approve")
    card.locator("button.fnb-edit").first.click()
    editor = card.locator("textarea.fnb-edit-json")
    expect(editor).to_have_value('{\n  "sku": "A",\n  "units": 10\n}')
    editor.fill('{"sku": "A", "units": }')  # a syntax error is caught as you type
    expect(card.locator(".fnb-edit-error")).to_contain_text("invalid JSON")
    expect(approve).to_be_disabled()
    editor.fill('["A", 4]')
    expect(card.locator(".fnb-edit-error")).to_contain_text("must be a JSON object")
    editor.fill('{"sku": "A", "units": 4}')
    expect(card.locator(".fnb-edit-error")).to_have_text("")
    expect(approve).to_have_text("Approve with 1 edit")
    row = card.locator("tr.fnb-action").first
    expect(row.locator(".fnb-badge")).to_have_text("edited")
    expect(row.locator(".fnb-payload-view")).to_contain_text("4")
    outcome = card.locator(".fnb-outcome")
    expect(outcome).to_have_text("Approve → executor dispatches 2 actions (restock, retire), "
                                 "1 edited")
    row.locator("button.fnb-revert").click()  # back to the plan's payload, editor closed
    expect(approve).to_have_text("Approve")
    expect(outcome).to_have_text(f"Approve → {approval_promise(approval)}")
    expect(row.locator(".fnb-badge")).to_have_count(0)
    expect(editor).to_have_count(0)
    card.locator("button.fnb-edit").first.click()
    editor.fill('{"sku": "A", "units": 4}')
    card.locator("input[type=checkbox]").nth(1).uncheck()
    expect(approve).to_have_text("Approve 1 of 2 with 1 edit")
    # what approving does follows the ticks: only the edited restock action goes
    expect(outcome).to_have_text("Approve → executor dispatches 1 restock action, 1 edited")
    assert assert_readable(page, f"card while editing ({theme})") > 5
    card.screenshot(path=str(tmp_path / f"card-editing-{theme}.png"))
    approve.click()
    partial = {"actions": [{"index": 0, "payload": {"sku": "A", "units": 4}}]}
    assert page.evaluate("window.sent") == [
        {"type": "decision", "outcome": "approve", "feedback": "", "partial": partial}]
    page.evaluate("""(partial) => { window.setTrait('outcome', 'approve');
        window.setTrait('partial', partial); window.setTrait('status', 'decided'); }""", partial)
    summary = card.locator(".fnb-edited")
    expect(summary.locator(".fnb-label")).to_have_text("1 action edited before approving")
    expect(summary.locator("tr")).to_have_count(1)
    expect(summary.locator("tr td").first).to_have_text("#1 units")
    expect(summary.locator(".fnb-diff-old")).to_have_text("10")
    expect(summary.locator(".fnb-diff-new")).to_have_text("4")
    expect(card.locator("tr.fnb-action").nth(1)).to_have_class("fnb-action fnb-deselected")
    expect(card.locator("button.fnb-edit")).to_have_count(0)
    assert assert_readable(page, f"card decided with an edit ({theme})") > 5
    card.screenshot(path=str(tmp_path / f"card-edited-{theme}.png"))
    assert page.errors == []
