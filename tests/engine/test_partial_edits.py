"""Editing and deselecting a plan's actions before approving (``partial``, SPEC §6/§7).

``partial={"actions": [0, {"index": 1, "payload": {...}}]}``: the dispatcher gets the
edited payload exactly once, a bad edit is refused before anything is written, and the
plan record, the events and the fold say what was dispatched.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flowai_nb as fa
from flowai_nb.engine.state import RunState

from .conftest import Dispatcher, build_runtime, build_spec, collect, of, run

ROOT = Path(__file__).resolve().parents[2]
EDIT_UNITS = {"actions": [{"index": 0, "payload": {"sku": "A", "units": "4"}}, 1]}


def test_an_edited_payload_reaches_the_dispatcher_once_and_the_plan_says_so(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    events = run(collect(rt.query("x", "t"), answer=lambda e: ("approve", None, EDIT_UNITS)))
    assert len(dispatcher.calls) == 1
    actions, ctx = dispatcher.calls[0]
    # "4" became 4: the edit went through the plan type's own validator
    assert [a["payload"] for a in actions] == [{"sku": "A", "units": 4}, {"sku": "Z"}]
    assert ctx["idempotency_keys"] == ["t/r1@v1#0", "t/r1@v1#1"]
    # recorded (and reported) as checked: what runs, in the plan type's form
    recorded = {"actions": [{"index": 0, "payload": {"sku": "A", "units": 4}}, 1]}
    assert of(events, "approval-decision")[0]["partial"] == recorded
    assert rt.get_approval(of(events, "approval-decision")[0]["approvalId"])["decision"][
        "partial"] == recorded
    plan = rt.get_plan("r1")
    assert plan["status"] == "executed"
    approved = next(h for h in plan["history"] if h["status"] == "approved")
    assert approved["note"] == {"edited": [{"index": 0, "kind": "restock",
                                            "before": {"sku": "A", "units": 10},
                                            "after": {"sku": "A", "units": 4}}],
                                "deselected": []}
    assert plan["actions"][0]["payload"] == {"sku": "A", "units": 10}  # what was proposed
    assert plan["dispatchedActions"] == [
        {"index": 0, "kind": "restock", "payload": {"sku": "A", "units": 4}, "references": []},
        {"index": 1, "kind": "retire", "payload": {"sku": "Z"}, "references": []}]
    state = RunState.from_events(events)
    [approval] = state.approvals.values()
    # the fold shows what runs: 4, not the "4" that was typed
    assert [(e["index"], e["before"]["units"], e["after"]["units"]) for e in approval.edits] \
        == [(0, 10, 4)]
    assert approval.deselected == []
    shown = state.plans["r1@v1"]
    assert shown.actions[0]["payload"]["units"] == 4 and shown.edited == {
        0: {"sku": "A", "units": 10}}
    assert [shown.action_status(i) for i in range(2)] == ["executed", "executed"]


def test_edit_and_deselect_together(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    partial = {"actions": [{"index": 1, "payload": {"sku": "Y"}}]}
    events = run(collect(rt.query("x", "t"), answer=lambda e: ("approve", None, partial)))
    [(actions, ctx)] = dispatcher.calls
    assert actions == [{"kind": "retire", "payload": {"sku": "Y"}, "references": []}]
    assert ctx["idempotency_keys"] == ["t/r1@v1#1"]  # keys stay per action index
    plan = rt.get_plan("r1")
    note = next(h for h in plan["history"] if h["status"] == "approved")["note"]
    assert note["deselected"] == [0] and [e["index"] for e in note["edited"]] == [1]
    assert [a["index"] for a in plan["dispatchedActions"]] == [1]
    state = RunState.from_events(events)
    shown = state.plans["r1@v1"]
    assert [shown.action_status(i) for i in range(2)] == ["deselected", "executed"]
    assert shown.actions[1]["payload"] == {"sku": "Y"}
    assert "restock: deselected, retire (edited): executed" in state.summary()


BAD_EDITS = [
    ({"index": 0, "payload": {"sku": "A", "units": "ten"}}, r"action 0 \(restock\).*units"),
    ({"index": 0, "payload": {"sku": "A"}}, r"action 0 \(restock\).*units.*(required|missing)"),
    ({"index": 0, "payload": {"sku": "A", "units": 1, "unit": 2}},
     r"action 0 \(restock\).*unknown field\(s\) \['unit'\]"),
    ({"index": 0, "payload": {"kind": "retire", "sku": "A"}}, r"action 0 keeps its kind"),
    ({"index": 0, "payload": ["A", 4]}, r"payload of action 0 must be a JSON object"),
    ({"index": 0, "payload": None}, r"payload of action 0 must be a JSON object.*None"),
    ({"index": 0, "payload": {"sku": "A" * 100_000, "units": [[[[1]]]] * 1000}},
     r"action 0 \(restock\).*units"),
    ({"index": 0, "payload": {"sku": b"A", "units": 1}}, r"bytes"),
    ({"index": 0}, r"actions\[0\].*exactly the keys 'index' and 'payload'"),
    ({"index": 5, "payload": {"sku": "A"}}, r"actions\[0\] names 5, not an action"),
    ({"index": True, "payload": {"sku": "A"}}, r"names True, not an action"),
]


@pytest.mark.parametrize(("entry", "message"), BAD_EDITS)
def test_a_bad_edit_is_refused_and_nothing_is_applied(dispatcher, entry, message) -> None:
    rt = build_runtime(dispatcher=dispatcher)

    async def main() -> list[dict]:
        events = []
        stream = rt.query("x", "t")
        async for event in stream:
            events.append(event)
            if event["type"] == "approval-required":
                before = rt.get_plan("r1")
                with pytest.raises(ValueError, match=message) as caught:
                    await rt.respond_to_approval(event["approvalId"], "approve", None,
                                                 {"actions": [entry, 1]})
                assert "partial approval of plan 'r1@v1'" in str(caught.value)
                assert [p["approvalId"] for p in rt.pending_approvals()] == [event["approvalId"]]
                assert rt.get_plan("r1") == before
                assert rt.get_approval(event["approvalId"])["decision"] is None
                await rt.respond_to_approval(event["approvalId"], "approve")
        return events

    events = run(main())
    assert events[-1]["status"] == "completed"
    [(actions, _)] = dispatcher.calls
    assert actions[0]["payload"] == {"sku": "A", "units": 10}  # the plan as stored


def test_the_same_index_twice_is_refused(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)

    async def main() -> None:
        async for event in rt.query("x", "t"):
            if event["type"] == "approval-required":
                with pytest.raises(ValueError, match="action 0 is listed twice"):
                    await rt.respond_to_approval(event["approvalId"], "approve", None, {
                        "actions": [0, {"index": 0, "payload": {"sku": "B", "units": 1}}]})
                await rt.respond_to_approval(event["approvalId"], "reject")

    run(main())
    assert dispatcher.calls == []


def test_a_headless_policy_with_a_bad_edit_fails_the_run_readably(dispatcher) -> None:
    bad = {"outcome": "approve", "partial": {"actions": [
        {"index": 0, "payload": {"sku": "A", "units": "lots"}}]}}
    rt = build_runtime(dispatcher=dispatcher)
    events = run(collect(rt.query("x", "t", approvals=[bad])))
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "failed"
    assert "decision on" in of(events, "error")[0]["message"]
    assert "units" in of(events, "error")[0]["message"]
    assert dispatcher.calls == []


def test_a_headless_policy_can_edit(dispatcher) -> None:
    good = {"outcome": "approve", "partial": {"actions": [
        {"index": 0, "payload": {"sku": "A", "units": 2}}]}}
    rt = build_runtime(dispatcher=dispatcher)
    run(collect(rt.query("x", "t", approvals=[good])))
    assert [a["payload"] for a in dispatcher.calls[0][0]] == [{"sku": "A", "units": 2}]


CHILD = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[1])
    import flowai_nb as fa
    from tests.engine.conftest import build_spec

    storage = {"kv": {"kind": "sqlite", "path": sys.argv[2]}}
    rt = fa.create_runtime(build_spec(storage=storage), interpreter="scripted")
    deadline = time.time() + 60
    while not rt.pending_approvals():
        assert time.time() < deadline, "no pending approval"
        time.sleep(0.05)
    [pending] = rt.pending_approvals()
    try:
        rt.respond_to_approval(pending["approvalId"], "approve", None, json.loads(sys.argv[3]))
    except ValueError as exc:
        print("refused:", exc)
        rt.respond_to_approval(pending["approvalId"], "approve")
    rt.close()
""")


@pytest.mark.parametrize("valid", [True, False])
def test_a_decision_with_an_edit_from_another_process(tmp_path, valid) -> None:
    db = tmp_path / "kv.db"
    dispatcher = Dispatcher()
    waiting = fa.create_runtime(build_spec(storage={"kv": {"kind": "sqlite", "path": str(db)}}),
                                interpreter="scripted", action_dispatcher=dispatcher)
    units = 3 if valid else -0.5
    partial = {"actions": [{"index": 0, "payload": {"sku": "B", "units": units}}]}

    async def main() -> tuple[list[dict], str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, str(ROOT), str(db), json.dumps(partial), env=env,
            stdout=subprocess.PIPE)
        events = await asyncio.wait_for(collect(waiting.query("x", "t")), 120)
        out, _ = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == 0
        return events, out.decode()

    try:
        events, out = run(main())
    finally:
        waiting.close()
    assert events[-1]["status"] == "completed"
    [(actions, _)] = dispatcher.calls
    if valid:
        assert actions == [{"kind": "restock", "payload": {"sku": "B", "units": 3},
                            "references": []}]
        assert of(events, "approval-decision")[0]["partial"] == partial
    else:  # refused in the child before anything was written; its plain approval stands
        assert "action 0 (restock) is invalid" in out and "units" in out
        assert [a["payload"] for a in actions] == [{"sku": "A", "units": 10}, {"sku": "Z"}]


def test_a_stored_decision_that_skipped_the_checks_fails_the_plan_not_the_dispatcher(
        dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    kv = rt._run_services.kv

    async def main() -> list[dict]:
        events = []
        async for event in rt.query("x", "t"):
            events.append(event)
            if event["type"] == "approval-required":  # as an older or foreign writer would
                approval_id = event["approvalId"]
                kv.write([("add", f"approval-decisions/{approval_id}", {
                    "outcome": "approve", "feedback": None, "decidedAt": 1,
                    "partial": {"actions": [{"index": 0, "payload": {"units": "many"}}]}}),
                    ("delete", f"approvals-pending/{approval_id}", None)])
        return events

    events = run(main())
    assert dispatcher.calls == []
    plan = rt.get_plan("r1")
    assert plan["status"] == "failed" and "units" in plan["history"][-1]["note"]["error"]
    result = [e for e in of(events, "tool-result") if e["tool"] == "execute_plan"][0]
    assert "partial approval of plan 'r1@v1'" in result["error"]

