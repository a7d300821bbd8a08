"""Concurrent runs on one runtime, cross-process decisions, store factories, sync use."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

import flowai_nb as fa

from .conftest import Dispatcher, build_runtime, build_spec, collect, of, run
from .test_approvals import PLAN_ONLY
from .test_orchestration import assert_paired


def test_two_threads_at_once_do_not_mix_events_history_or_approvals() -> None:
    dispatcher = Dispatcher()
    scripts = {**PLAN_ONLY, "router": PLAN_ONLY["router"] * 2}
    rt = build_runtime(scripts, dispatcher=dispatcher)
    gates: dict[str, list[str]] = {"a": [], "b": []}

    async def one(thread: str, outcome: str) -> list[dict]:
        events = []
        async for event in rt.query(f"request from {thread}", thread):
            events.append(event)
            if event["type"] == "approval-required":
                gates[thread].append(event["approvalId"])
                await asyncio.sleep(0.01)  # let the other run interleave while this one waits
                await rt.respond_to_approval(event["approvalId"], outcome)
        return events

    async def both():
        return await asyncio.gather(one("a", "approve"), one("b", "reject"))

    events_a, events_b = run(both())
    for events, thread in ((events_a, "a"), (events_b, "b")):
        assert {e["threadId"] for e in events} == {thread}
        assert len({e["runId"] for e in events}) == 1
        assert_paired(events)
    assert set(gates["a"]).isdisjoint(gates["b"])
    assert of(events_a, "approval-decision")[0]["outcome"] == "approve"
    assert of(events_b, "approval-decision")[0]["outcome"] == "reject"
    assert len(dispatcher.calls) == 1  # only thread a's plan was dispatched
    services = rt._run_services
    router = rt.spec.agent("router")
    first = services.history(router, "a")[0]["content"][0]["text"]
    second = services.history(router, "b")[0]["content"][0]["text"]
    assert (first, second) == ("request from a", "request from b")


def test_a_second_run_on_a_busy_thread_is_refused() -> None:
    rt = build_runtime(PLAN_ONLY)

    async def main():
        first = rt.query("x", "t")
        async for event in first:
            if event["type"] == "approval-required":
                with pytest.raises(RuntimeError, match="thread 't' already has a run"):
                    rt.query("y", "t")
                rt.query("z", "other-thread")  # other threads are fine
                first.cancel()

    run(main())


def test_one_plan_cannot_be_dispatched_twice(tmp_path) -> None:
    # two processes (runtimes sharing a store) execute the thread's plan at the same time
    dispatcher = Dispatcher()
    storage = {"plans": {"kind": "sqlite", "path": str(tmp_path / "plans.db")}}
    script = {"executor": [{"tool": "execute_plan", "args": {"plan_id": "p"}}, {"text": "done"}]}
    rt, rt2 = (fa.create_runtime(build_spec(script, storage=storage), interpreter="scripted",
                                 action_dispatcher=dispatcher) for _ in range(2))
    body = {"actions": [{"kind": "retire", "sku": "Q"}]}
    _, actions = rt.spec.plan("restock").validate_body(body)
    rt._run_services.plans.store(spec_name="restock", body=body, actions=actions, base_id="p",
                                 author="planner", run_id="r0", thread_id="t")

    asked: list[str] = []

    async def approve_when_both_asked(request):
        asked.append(request["approvalId"])
        while len(asked) < 2:  # both runs are past the plan's status check and at the gate
            await asyncio.sleep(0.001)
        return "approve"

    async def both():
        return await asyncio.gather(
            rt.run_agent("executor", "go", "t", approvals=approve_when_both_asked).collect(),
            rt2.run_agent("executor", "go", "t", approvals=approve_when_both_asked).collect())

    first, second = run(both())
    results = [e for e in of(first + second, "tool-result") if e["tool"] == "execute_plan"]
    assert len(asked) == 2 and len(dispatcher.calls) == 1
    assert sum("already executed" in (r.get("error") or "") for r in results) == 1


def test_partial_approvals_are_validated() -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=Dispatcher())

    async def main():
        stream = rt.query("x", "t")
        async for event in stream:
            if event["type"] == "approval-required":
                for bad in ({"actions": [7]}, {"actions": ["0"]}, {"actions": []}, [0]):
                    with pytest.raises(ValueError, match="indexes in 0..0"):
                        await rt.respond_to_approval(event["approvalId"], "approve", None, bad)
                await rt.respond_to_approval(event["approvalId"], "approve", None,
                                             {"actions": [0]})
        return stream.status

    assert run(main()) == "completed"


def test_an_approval_policy_that_raises_fails_the_run_and_withdraws_the_gate() -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=Dispatcher())
    events = run(collect(rt.query("x", "t", approvals=lambda request: "yes please")))
    error = of(events, "error")[0]
    assert error["where"] == "approver" and "'yes please'" in error["message"]
    assert rt.pending_approvals() == []
    assert rt.get_plan("p")["status"] == "draft"
    assert_paired(events)


def test_approval_timeout_is_validated() -> None:
    rt = build_runtime()
    for bad in ("5", 0, -1, True):
        with pytest.raises(ValueError, match="approval_timeout"):
            rt.approval_timeout = bad
    rt.approval_timeout = 2.5
    assert rt.approval_timeout == 2.5


def test_a_decision_made_by_another_runtime_wakes_the_waiting_run(tmp_path) -> None:
    dispatcher = Dispatcher()
    storage = {"kv": {"kind": "sqlite", "path": str(tmp_path / "kv.db")}}
    waiting = fa.create_runtime(build_spec(PLAN_ONLY, storage=storage), interpreter="scripted",
                                action_dispatcher=dispatcher)
    other = fa.create_runtime(build_spec(PLAN_ONLY, storage=storage), interpreter="scripted")

    async def main():
        events = []
        async for event in waiting.query("x", "t"):
            events.append(event)
            if event["type"] == "approval-required":
                await asyncio.sleep(0.05)
                await other.respond_to_approval(event["approvalId"], "approve")
        return events

    events = run(asyncio.wait_for(main(), timeout=30))
    assert events[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def test_kv_plans_and_memory_stores_each_use_their_sqlite_file(tmp_path) -> None:
    files = {name: tmp_path / f"{name}.db" for name in ("kv", "plans", "memory")}
    storage = {name: {"kind": "sqlite", "path": str(path)} for name, path in files.items()}

    def runtime():
        return fa.create_runtime(build_spec(storage=storage), interpreter="scripted",
                                 action_dispatcher=Dispatcher())

    events = run(collect(runtime().query("restock", "t1", approvals="auto_approve")))
    assert events[-1]["status"] == "completed"

    def keys(name: str) -> list[str]:
        with sqlite3.connect(files[name]) as con:
            return [row[0] for row in con.execute("SELECT key FROM kv")] if _has_kv(con) else []

    assert any("/thread-plans/t1/r1/v1" in k for k in keys("plans"))
    assert any("/history/t1/router" in k for k in keys("memory"))
    assert any("/traces/" in k for k in keys("kv"))
    assert not any("plans/" in k for k in keys("kv") + keys("memory"))
    # a new process (runtime) sees the plan and the coordinator's history
    fresh = runtime()
    assert fresh.get_plan("r1")["status"] == "executed"
    assert len(fresh._run_services.history(fresh.spec.agent("router"), "t1")) > 1


def _has_kv(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE name = 'kv'").fetchone() is not None


def test_plain_for_works_inside_a_running_loop_like_a_notebook_cell() -> None:
    rt = build_runtime({"router": [{"text": ["from ", "a cell"]}]})

    async def cell():
        return [event["type"] for event in rt.query("x", "t")]  # sync for, loop running

    kinds = run(cell())
    assert kinds[0] == "run-start" and kinds[-1] == "run-finish"
