"""A run whose event loop goes away ends readably; only a run at a gate stays resumable.

``asyncio.run`` cancels what is left on its loop when the main coroutine returns (a
script that stopped reading a stream, a kernel shutting down). A run waiting at an
approval gate then stays paused in the store for anyone to resume; a run still working
cannot be resumed from where it was, so it ends ``cancelled`` with its ``run-finish``
and trace, and nothing follows it forever.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import flowai_nb as fa

from .conftest import BODY, build_runtime, of, types


@fa.define_tool("slow", "Takes its time", {})
async def slow(args, ctx):
    await asyncio.sleep(60)
    return {"done": True}


def _sqlite(tmp_path: Path) -> dict:
    return {"kv": {"kind": "sqlite", "config": {"path": str(tmp_path / "kv.db")}}}


def _leave_at(start, stop) -> str:
    """Start a run (``start()``), stop reading at the first event ``stop(event)`` picks,
    and let ``asyncio.run`` end, as a script or a shutting-down kernel does."""
    async def main() -> str:
        stream = start()
        async for event in stream:
            if stop(event):
                return stream.run_id
        raise AssertionError("the run ended before the event it was left at")

    return asyncio.run(main())


async def _replay(rt: fa.Runtime, run_id: str) -> list[dict]:
    return [e async for e in rt.subscribe(run_id=run_id)]


def test_a_run_working_when_its_loop_goes_away_ends_cancelled_with_run_finish(
        tmp_path: Path) -> None:
    scripts = {"analyst": [{"tool": "slow", "args": {}}, {"text": "never"}]}
    kw = {"storage": _sqlite(tmp_path), "specialist_tools": (slow,)}
    rt = build_runtime(scripts, spec_kw=kw)
    run_id = _leave_at(lambda: rt.run_specialist("analyst", "go", thread_id="t"),
                       lambda e: e["type"] == "tool-call")
    # another process sharing the store sees a finished run, not one running forever
    other = fa.create_runtime(rt.spec, interpreter="scripted")
    events = asyncio.run(asyncio.wait_for(_replay(other, run_id), 10))  # it ends
    assert types(events)[-3:] == ["tool-result", "agent-finish", "run-finish"]
    assert events[-1]["status"] == "cancelled"
    assert "event loop running the run stopped" in of(events, "tool-result")[0]["error"]
    [trace] = other.list_traces(thread_id="t")
    assert (trace["runId"], trace["status"]) == (run_id, "cancelled")
    assert other.pending_approvals() == []


def test_a_run_at_a_gate_when_its_loop_goes_away_stays_paused_and_resumable(
        tmp_path: Path, dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher, spec_kw={"storage": _sqlite(tmp_path)})
    run_id = _leave_at(lambda: rt.query("x", "t"), lambda e: e["type"] == "approval-required")
    other = fa.create_runtime(rt.spec, interpreter="scripted", action_dispatcher=dispatcher)
    [pending] = other.pending_approvals()
    assert pending["runId"] == run_id and other.list_traces(thread_id="t")[0]["status"] == "paused"

    async def resume() -> list[dict]:
        await other.respond_to_approval(pending["approvalId"], "approve")
        return [e async for e in other.query(None, "t", resume=pending["resumeToken"])]

    events = asyncio.run(resume())
    assert events[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def test_a_plan_whose_dispatcher_is_cut_off_needs_reconciliation_not_executing(
        tmp_path: Path) -> None:
    started = []

    async def dispatcher(actions, ctx):
        started.append(len(actions))
        await asyncio.sleep(60)
        return {"entitiesAffected": len(actions)}

    rt = build_runtime(dispatcher=dispatcher, spec_kw={"storage": _sqlite(tmp_path)})
    run_id = _leave_at(lambda: rt.query("x", "t", approvals="auto_approve"),
                       lambda e: e["type"] == "plan-status" and e["status"] == "executing")
    assert started == [len(BODY["actions"])]
    other = fa.create_runtime(rt.spec, interpreter="scripted")
    plan = other.get_plan("r1")
    assert plan["status"] == "needs_reconciliation"
    assert "whether the actions were applied is unknown" in plan["history"][-1]["note"]["error"]
    events = asyncio.run(asyncio.wait_for(_replay(other, run_id), 10))
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "cancelled"


def test_cancel_during_an_async_dispatcher_leaves_the_plan_needing_reconciliation() -> None:
    async def dispatcher(actions, ctx):
        await asyncio.sleep(60)

    rt = build_runtime(dispatcher=dispatcher)

    async def main() -> list[dict]:
        stream = rt.query("x", "t", approvals="auto_approve")
        events = []
        async for event in stream:
            events.append(event)
            if event["type"] == "plan-status" and event["status"] == "executing":
                stream.cancel()
        return events

    events = asyncio.run(main())
    assert events[-1]["status"] == "cancelled"
    assert [e["status"] for e in of(events, "plan-status")][-1] == "needs_reconciliation"
    assert rt.get_plan("r1")["status"] == "needs_reconciliation"
