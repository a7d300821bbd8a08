"""Jupyter UX second pass on the real engine: run outcome, outcome-first approval cards,
static forms brought up to date, Stop keeps the text, per-step timing in the trace."""

from __future__ import annotations

import asyncio
import json

import pytest

from flowai_nb.jupyter import RunHandle, run
from flowai_nb.jupyter._events import run_outcome, tool_state
from flowai_nb.jupyter.widgets import ApprovalCard

from .fakes import front_end_says
from .scenario import build_runtime


async def _first_card(handle: RunHandle) -> ApprovalCard:
    for _ in range(500):
        if handle.approvals:
            return handle.approvals[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no approval card; status {handle.status}")


def _finished(approvals: object, *, revise: bool = False) -> RunHandle:
    dispatched: list = []
    runtime = build_runtime(dispatched, revise=revise)

    async def main() -> RunHandle:
        return await run(runtime, "refund order 42", approvals=approvals)

    return asyncio.run(main())


def test_run_header_says_what_the_plan_became() -> None:
    rejected = _finished("auto_reject")
    assert rejected.status == "completed"
    assert run_outcome(rejected.state) == "plan rejected"
    assert "flowai run · completed · plan rejected" in rejected._repr_mimebundle_()["text/html"]
    assert rejected.view.outcome == "plan rejected"  # the live header shows the same words
    assert rejected.summary().startswith("status: completed\noutcome: plan rejected\n")

    approved = _finished("auto_approve")
    assert approved.view.outcome == "1 action dispatched"


def test_cards_say_what_approving_does_who_decided_and_what_happened() -> None:
    handle = _finished("auto_approve")
    [card] = handle.approvals
    assert card.promise == "executor dispatches 1 refund action"
    assert (card.title, card.decided_by, card.result) == (
        "Approved", "policy (auto_approve)", "1 action dispatched")
    assert card.context["prompt"] == "refund order 42" and card.context["threadId"]
    static = card._repr_html()
    assert "Approved · plan" in static and "Approval needed" not in static
    assert "<b>decided by:</b> policy (auto_approve)" in static
    assert "<b>what happened:</b> 1 action dispatched" in static
    assert "<tr><td>1</td>" in static and "<tr><td>0</td>" not in static  # numbered from 1


def test_a_click_is_named_and_a_revised_plan_shows_its_previous_version() -> None:
    dispatched: list = []
    runtime = build_runtime(dispatched, revise=True)

    async def main() -> RunHandle:
        handle = run(runtime, "refund order 42")
        card = await _first_card(handle)
        assert card.title == "Approval needed" and card.previous is None
        front_end_says(card, {"type": "decision", "outcome": "revise", "feedback": "10 EUR"})
        await handle.respond("approve")
        return await handle

    handle = asyncio.run(main())
    first, second = handle.approvals
    assert (first.decided_by, first.result) == ("you (a click on this card)",
                                                "revised as refund-42@v2")
    assert second.previous["actions"][0]["payload"]["amount"] == 19.5  # v1, for the diff
    assert second.payload["actions"][0]["payload"]["amount"] == 10
    assert (second.decided_by, second.result) == ("code (respond)", "1 action dispatched")


def test_unticked_actions_reach_the_runtime_as_a_partial_approval() -> None:
    dispatched: list = []
    runtime = build_runtime(dispatched)
    seen: list = []
    respond = runtime.respond_to_approval

    def recording(approval_id, outcome, feedback=None, partial=None):
        seen.append(partial)
        return respond(approval_id, outcome, feedback=feedback, partial=partial)

    runtime.respond_to_approval = recording

    async def main() -> RunHandle:
        handle = run(runtime, "refund order 42")
        card = await _first_card(handle)
        front_end_says(card, {"type": "decision", "outcome": "approve", "feedback": "",
                              "partial": {"actions": [0]}})
        return await handle

    handle = asyncio.run(main())
    assert seen == [{"actions": [0]}] and handle.approvals[0].partial == {"actions": [0]}
    assert len(dispatched) == 1


def test_static_forms_are_brought_up_to_date_when_the_run_ends(monkeypatch) -> None:
    import IPython.display

    shown: list = []
    updates: list = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda obj, **kw: shown.append((obj, kw)))
    monkeypatch.setattr(IPython.display, "update_display",
                        lambda obj, **kw: updates.append((obj, kw)))
    runtime = build_runtime([])

    async def main() -> RunHandle:
        handle = run(runtime, "refund order 42", approvals="auto_approve")
        handle._ipython_display_()  # what the notebook does with the cell's result
        return await handle

    asyncio.run(main())
    [(bundle, kw)] = shown
    assert "flowai run · starting" in bundle["text/html"]
    display_id = kw["display_id"]
    final = [b for b, k in updates if k["display_id"] == display_id][-1]
    assert "flowai run · completed · 1 action dispatched" in final["text/html"]
    assert "Refund done." in final["text/html"]
    assert final["text/plain"].startswith("RunHandle(status='completed'")


def test_stop_keeps_the_streamed_text_and_marks_the_calls_cancelled() -> None:
    runtime = build_runtime([])
    prompt = json.dumps({"script": [
        {"text": "Planning first. ", "tool": "call_agent",
         "args": {"agent": "planner", "prompt": "refund order 42"}},
        {"tool": "call_agent", "args": {"agent": "executor", "prompt": "run refund-42"}},
        {"text": "Done."}]})

    async def main() -> RunHandle:
        handle = run(runtime, prompt, approvals=[])  # waits for a person at the gate
        await _first_card(handle)
        handle.cancel()
        return await handle

    handle = asyncio.run(main())
    assert handle.status == "cancelled"
    assert handle.text == "Planning first. "  # not '' after Stop
    states = {c.tool: tool_state(c) for c in handle.state.tools.values()}
    assert states["execute_plan"] == "cancelled" and states["store_plan"] == "done"
    assert "cancelled" in handle.summary()


def test_trace_timeline_nests_steps_and_shows_the_approval_wait() -> None:
    handle = _finished("auto_approve")
    viewer = handle.trace()
    rows = viewer.timeline
    kinds = [(r["kind"], r["name"], r["depth"]) for r in rows]
    assert kinds[0] == ("agent", "coordinator", 0)
    assert ("agent", "executor", 2) in kinds and ("tool", "execute_plan", 3) in kinds
    [wait] = [r for r in rows if r["kind"] == "approval"]
    assert wait["depth"] == 4 and wait["status"] == "approve"
    assert wait["start"] is not None and wait["end"] >= wait["start"]
    # ranks nest: a row spans everything under it, so a 1 ms run still draws a tree
    root = rows[0]
    assert (root["startRank"], root["endRank"]) == (0, len(rows))
    assert [r["usage"] for r in rows if r["name"] == "coordinator"] == [
        {"inputTokens": 12, "outputTokens": 3}]
    assert "12 in / 3 out tokens" in viewer._repr_html()


def test_large_results_open_in_a_data_grid(tmp_path) -> None:
    import flowai_nb as fa
    from flowai_nb.data import make_sample_sqlite
    from flowai_nb.jupyter.widgets.data_view import DataView

    db = make_sample_sqlite(tmp_path / "retail.db")
    prompt = json.dumps({"script": [
        {"tool": "run_sql", "args": {"sql": "SELECT * FROM sales ORDER BY sale_id"}},
        {"text": "Here they are."}]})
    spec = fa.define_runtime(
        fa.define_tenant("shop", "1"),
        agents=[fa.define_specialist("analyst", model="scripted", prompt="SQL.",
                                     toolkits=["sql"])],
        providers={"scripted": {"scripts": {"analyst": []}}})
    runtime = fa.create_runtime(spec, interpreter="scripted",
                                target_database_url=f"sqlite:///{db}")

    async def main() -> RunHandle:
        return await run(runtime, prompt, specialist="analyst")

    handle = asyncio.run(main())
    [call] = handle.state.tools.values()
    assert call.result["kind"] == "sql_result"  # too large to go back inline
    front_end_says(handle.view, {"type": "open-result", "callId": call.call_id})
    [grid] = handle._grids
    assert isinstance(grid, DataView) and grid in handle._box.children
    # the reference holds the full result (all 3,000 rows, within the sql caps)
    assert grid.row_count == 3000 and not grid.truncated and len(grid.rows) == 50
    with pytest.raises(LookupError, match="no finished tool call 'nope'"):
        handle.open_result("nope")
    runtime.close()


def _flowai_approvals_cards(monkeypatch, runtime, thread: str) -> list:
    """Pause a run of ``runtime`` at its gate, then show ``%flowai_approvals``' cards."""
    from IPython.core.interactiveshell import InteractiveShell

    import flowai_nb.jupyter.magics as magics

    shown: list = []
    monkeypatch.setattr(magics, "display", shown.append)

    async def paused() -> None:
        async for event in runtime.query("refund order 42", thread, approvals=[]):
            if event["type"] == "approval-required":
                return

    asyncio.run(paused())
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("flowai_nb")
    try:
        ip.user_ns["rt"] = runtime
        result = ip.run_cell("%flowai_approvals --runtime rt")
        assert result.error_in_exec is None, result.error_in_exec
    finally:
        ip.extension_manager.unload_extension("flowai_nb")
        ip.user_ns.pop("rt", None)
    return shown


def test_flowai_approvals_cards_name_their_run_thread_and_prompt(monkeypatch) -> None:
    runtime = build_runtime([])
    [card] = _flowai_approvals_cards(monkeypatch, runtime, "t-cards")
    assert card.context == {"runId": runtime.pending_approvals()[0]["runId"],
                            "threadId": "t-cards", "prompt": "refund order 42"}
    assert card.promise == "executor dispatches 1 refund action"
    assert "prompt <code>refund order 42</code>" in card._repr_html()


def test_an_edit_from_the_card_is_checked_by_the_kernel_then_dispatched_and_shown() -> None:
    dispatched: list = []
    runtime = build_runtime(dispatched)
    edit = {"actions": [{"index": 0, "payload": {"order_id": 42, "amount": 12.5}}]}

    async def main() -> RunHandle:
        handle = run(runtime, "refund order 42")
        card = await _first_card(handle)
        front_end_says(card, {"type": "decision", "outcome": "approve", "feedback": "",
                              "partial": {"actions": [{"index": 0, "payload": {
                                  "order_id": 42, "amount": "a lot"}}]}})
        for _ in range(200):
            if card.error:
                break
            await asyncio.sleep(0.01)
        assert "action 0 (refund) is invalid" in card.error and "amount" in card.error
        assert card.status == "pending" and runtime.pending_approvals()
        front_end_says(card, {"type": "decision", "outcome": "approve", "feedback": "",
                              "partial": edit})
        return await handle

    handle = asyncio.run(main())
    assert [[a["payload"] for a in call] for call in dispatched] == [
        [{"order_id": 42, "amount": 12.5}]]
    [card] = handle.approvals
    assert card.partial == edit and card.result == "1 action dispatched"
    assert "approved, edited" in card._repr_html()
    assert "amount: <s>19.5</s> → <b>12.5</b>" in card._repr_html()
    [plan] = handle.plans
    assert plan.actions[0]["payload"]["amount"] == 12.5 and plan.edited == [0]
    assert "(edited)" in plan._repr_html()
    assert handle.state.approvals[card.approval_id].edits == [
        {"index": 0, "kind": "refund", "before": {"order_id": 42, "amount": 19.5},
         "after": {"order_id": 42, "amount": 12.5}}]


def test_a_flowai_approvals_card_refuses_a_bad_edit_and_stays_pending(monkeypatch) -> None:
    runtime = build_runtime([])
    [card] = _flowai_approvals_cards(monkeypatch, runtime, "t-edit")
    bad = {"actions": [{"index": 0, "payload": {"order_id": 42}}]}
    with pytest.raises(ValueError, match=r"action 0 \(refund\) is invalid.*amount"):
        asyncio.run(card.respond("approve", partial=bad))
    assert card.status == "pending" and "amount" in card.error
    assert [a["approvalId"] for a in runtime.pending_approvals()] == [card.approval_id]
    plan = runtime.get_plan("refund-42")
    assert plan["status"] == "pending_approval" and "dispatchedActions" not in plan


def test_after_an_edit_the_card_shows_the_payload_as_recorded_not_as_typed() -> None:
    dispatched: list = []
    runtime = build_runtime(dispatched)
    typed = {"order_id": "42", "amount": "12.50"}  # the plan type makes these 42 and 12.5

    async def main() -> RunHandle:
        handle = run(runtime, "refund order 42")
        card = await _first_card(handle)
        front_end_says(card, {"type": "decision", "outcome": "approve", "feedback": "",
                              "partial": {"actions": [{"index": 0, "payload": typed}]}})
        return await handle

    handle = asyncio.run(main())
    [card] = handle.approvals
    plan = runtime.get_plan("refund-42", thread_id=handle.state.thread_id)
    [ran] = plan["dispatchedActions"]
    assert ran["payload"] == {"order_id": 42, "amount": 12.5}
    assert [a["payload"] for a in dispatched[0]] == [ran["payload"]]
    # what the card shows (its synced partial, drawn by the front end) is the record
    assert card.partial == {"actions": [{"index": 0, "payload": ran["payload"]}]}
    shown = card.partial["actions"][0]["payload"]
    assert type(shown["order_id"]) is int and type(shown["amount"]) is float
    html = card._repr_html()
    assert "amount: <s>19.5</s> → <b>12.5</b>" in html and "12.50" not in html
    assert "order_id: <s>" not in html  # "42" became 42, the stored value: not an edit
    [plan_view] = handle.plans
    assert plan_view.actions[0]["payload"] == ran["payload"]
    assert "12.50" not in plan_view._repr_html()


def test_a_card_without_a_plan_type_to_check_with_shows_the_edit_as_given() -> None:
    card = ApprovalCard({"approvalId": "a1", "kind": "plan", "target": "refund_plan",
                         "payload": {"planId": "p@v1", "plan": "refund_plan",
                                     "actions": [{"kind": "refund", "payload": {"amount": 1}}],
                                     "body": {"actions": [{"kind": "refund", "amount": 1}]}}})
    edit = {"actions": [{"index": 0, "payload": {"amount": "2"}}]}
    card._decided("approve", None, edit)
    assert card.partial == edit and card.outcome == "approve"
