"""The Jupyter surface on the real engine (scripted interpreter, offline)."""

from __future__ import annotations

import asyncio
import json

from IPython.core.interactiveshell import InteractiveShell

from flowai_nb.jupyter import RunHandle, TraceViewer, run, start

from .fakes import front_end_says
from .scenario import build_runtime


async def _first_card(handle: RunHandle):
    for _ in range(500):
        if handle.approvals:
            return handle.approvals[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no approval card; status {handle.status}")


def test_clicking_approve_runs_the_dispatcher_once() -> None:
    dispatched: list = []
    runtime = build_runtime(dispatched)

    async def main() -> RunHandle:
        handle = run(runtime, "refund order 42", thread_id="t1")
        card = await _first_card(handle)
        assert runtime.pending_approvals()[0]["approvalId"] == card.approval_id
        assert dispatched == [] and handle.status == "waiting for approval"
        front_end_says(card, {"type": "decision", "outcome": "approve", "feedback": ""})
        return await handle

    handle = asyncio.run(main())
    assert len(dispatched) == 1 and runtime.pending_approvals() == []
    assert handle.text == "Refund done." and handle.view.text == "Refund done."
    [plan] = handle.plans
    assert (plan.plan, plan.status, plan.action_statuses) == (
        "refund_plan", "executed", ["executed"])
    assert handle.approvals[0].outcome == "approve"
    summary = handle.summary()
    assert summary.startswith(
        "status: completed\noutcome: 1 action dispatched\nprompt: refund order 42\n")
    assert "  plan refund_plan: approve\n" in summary and "text: Refund done." in summary
    # the summary is deterministic: a second identical run gives the same text
    again = asyncio.run(run(build_runtime([]), "refund order 42", approvals="auto_approve").wait())
    assert again.summary() == summary


def test_revise_feedback_reaches_the_planner() -> None:
    dispatched: list = []
    runtime = build_runtime(dispatched, revise=True)
    planner_saw: list[str] = []
    play = runtime.interpreter.turn

    def recording(request):
        if request.agent == "planner":
            planner_saw.append(json.dumps(request.messages))
        return play(request)

    runtime.interpreter.turn = recording

    async def main() -> RunHandle:
        handle = run(runtime, "refund order 42")
        card = await _first_card(handle)
        front_end_says(card, {"type": "decision", "outcome": "revise", "feedback": "only 10 EUR"})
        await handle.respond("approve")
        return await handle

    handle = asyncio.run(main())
    assert "only 10 EUR" in planner_saw[-1]
    assert [c.outcome for c in handle.approvals] == ["revise", "approve"]
    assert dispatched[0][0]["payload"]["amount"] == 10
    assert [p.status for p in handle.plans] == ["draft", "executed"]


def test_10000_real_deltas_arrive_exactly_in_few_batches() -> None:
    runtime = build_runtime([])
    deltas = [f"t{i} " for i in range(10_000)]
    prompt = json.dumps({"script": [{"text": deltas}]})

    async def main() -> RunHandle:
        return await start(runtime.query(prompt, "t-deltas"), runtime=runtime)

    handle = asyncio.run(main())
    batches = [m for m in handle.view.comm.customs() if m["type"] == "batch"]
    text = "".join(e["delta"] for b in batches for e in b["events"] if e["type"] == "text-delta")
    assert text == "".join(deltas) == handle.view.text
    assert len(batches) < 100
    viewer = handle.trace()
    assert isinstance(viewer, TraceViewer) and viewer.trace["status"] == "completed"
    assert len(viewer.trace["events"]) < 10  # deltas merged for the log


def test_flowai_magic_with_a_real_runtime(monkeypatch) -> None:
    ip = InteractiveShell.instance()
    ip.reset(new_session=False)
    try:
        ip.extension_manager.load_extension("flowai_nb")
        dispatched: list = []
        ip.user_ns["rt"] = build_runtime(dispatched)
        result = ip.run_cell("%%flowai --thread nb --approvals auto_approve\nrefund order 42\n")
        assert result.error_in_exec is None, result.error_in_exec
        assert result.result.status == "completed" and len(dispatched) == 1
        traces = ip.run_cell("%flowai_traces").result
        assert [t["threadId"] for t in traces.traces] == ["nb"]
        answer = ip.run_cell("%%flowai --specialist support\nwhere is order 42?").result
        assert (answer.state.entry_agent, answer.text) == ("support", "Order 42 shipped late.")
        # without a headless policy and without a loop, the gate fails fast (no hang)
        monkeypatch.delenv("FLOWAI_NB_APPROVAL", raising=False)
        result = ip.run_cell("%%flowai --thread nb2\nrefund order 42\n")
        assert "waiting for approval" in str(result.error_in_exec)
    finally:
        ip.extension_manager.unload_extension("flowai_nb")
        ip.reset(new_session=False)


def test_loaded_extension_renders_a_runtime_as_html() -> None:
    ip = InteractiveShell.instance()
    runtime = build_runtime([])
    ip.extension_manager.load_extension("flowai_nb")
    try:
        html = ip.display_formatter.format(runtime)[0]["text/html"]
        assert "acme@1" in html and "interpreter scripted" in html
        assert "<code>planner</code></td><td>planner" in html
    finally:
        ip.extension_manager.unload_extension("flowai_nb")
    assert "text/html" not in ip.display_formatter.format(runtime)[0]
