"""SPEC §7 plan versions are per thread: reusing a plan id in a thread creates its next
version, the same id in another thread is another plan starting at v1, and stores
written when versions were tenant-wide still resume and execute."""

from __future__ import annotations

import pytest

from flowai_nb.engine import AmbiguousPlanError, PlanNotFoundError
from flowai_nb.storage import open_store

from .conftest import FLOW, Dispatcher, build_runtime, collect, of, run
from .test_resume import run_until_gate, sqlite_runtime

TWICE = {agent: steps * 3 for agent, steps in FLOW.items()}


def _plan_ids(events: list[dict]) -> list[str]:
    return [e["planId"] for e in of(events, "plan-stored")]


def test_two_threads_storing_one_plan_id_each_get_v1_and_dispatch_independently() -> None:
    dispatcher = Dispatcher()
    rt = build_runtime(TWICE, dispatcher=dispatcher)
    for thread in ("a", "b"):
        events = run(collect(rt.query("restock", thread, approvals="auto_approve")))
        assert events[-1]["status"] == "completed"
        assert _plan_ids(events) == ["r1@v1"]
    assert len(dispatcher.calls) == 2
    keys = [ctx["idempotency_keys"] for _, ctx in dispatcher.calls]
    assert keys == [["a/r1@v1#0", "a/r1@v1#1"], ["b/r1@v1#0", "b/r1@v1#1"]]
    assert [ctx["plan"]["threadId"] for _, ctx in dispatcher.calls] == ["a", "b"]
    for thread in ("a", "b"):
        plan = rt.get_plan("r1", thread_id=thread)
        assert (plan["id"], plan["threadId"], plan["status"]) == ("r1@v1", thread, "executed")
        assert [p["id"] for p in rt.list_plans(thread)] == ["r1@v1"]

    # reusing the id within a thread is that thread's next version; the other keeps v1
    events = run(collect(rt.query("restock again", "a", approvals="auto_approve")))
    assert _plan_ids(events) == ["r1@v2"]
    assert dispatcher.calls[-1][1]["idempotency_keys"] == ["a/r1@v2#0", "a/r1@v2#1"]
    assert [p["id"] for p in rt.list_plans("a")] == ["r1@v1", "r1@v2"]
    assert rt.get_plan("r1", thread_id="b")["id"] == "r1@v1"
    assert len(rt.list_plans()) == 3


def test_get_plan_without_a_thread_finds_the_one_thread_or_names_them_all() -> None:
    rt = build_runtime(TWICE, dispatcher=Dispatcher())
    run(collect(rt.query("restock", "a", approvals="auto_approve")))
    assert rt.get_plan("r1")["threadId"] == "a"  # one thread has it: no thread_id needed
    for thread in ("b", "a"):
        run(collect(rt.query("restock", thread, approvals="auto_approve")))

    with pytest.raises(AmbiguousPlanError) as info:
        rt.get_plan("r1")
    assert str(info.value) == ("plan id 'r1' exists in 2 threads ('a', 'b'); pass thread_id= "
                               "one of them")
    assert info.value.threads == ["a", "b"] and isinstance(info.value, LookupError)
    with pytest.raises(AmbiguousPlanError, match="'r1@v1' exists in 2 threads"):
        rt.get_plan("r1@v1")
    assert rt.get_plan("r1@v2")["threadId"] == "a"  # only thread a has a second version
    assert rt.get_plan("r1@v1", thread_id="b")["threadId"] == "b"
    with pytest.raises(PlanNotFoundError, match="no plan 'r1' in thread 'c'"):
        rt.get_plan("r1", thread_id="c")
    with pytest.raises(PlanNotFoundError, match="no plan 'r1@v3' for this tenant"):
        rt.get_plan("r1@v3")
    for bad in ({"plan_id": 7}, {"plan_id": "r1", "thread_id": ["a"]}):
        with pytest.raises(TypeError, match="plan_id and thread_id must be strings"):
            rt.get_plan(**bad)


def test_an_executor_in_another_thread_runs_the_plan_only_when_one_thread_has_it() -> None:
    dispatcher = Dispatcher()
    rt = build_runtime(TWICE, dispatcher=dispatcher)
    run(collect(rt.run_agent("planner", "plan", "plans-a")))
    events = run(collect(rt.run_agent("executor", "run r1", "exec-1", approvals="auto_approve")))
    assert events[-1]["status"] == "completed" and len(dispatcher.calls) == 1
    assert dispatcher.calls[0][1]["idempotency_keys"] == ["plans-a/r1@v1#0", "plans-a/r1@v1#1"]
    assert rt.get_plan("r1")["status"] == "executed"

    run(collect(rt.run_agent("planner", "plan", "plans-b")))
    events = run(collect(rt.run_agent("executor", "run r1", "exec-2", approvals="auto_approve")))
    result = [e for e in of(events, "tool-result") if e["tool"] == "execute_plan"][0]
    assert result["error"] == (
        "thread 'exec-2' has no plan 'r1' and 2 other threads have one ('plans-a', 'plans-b'); "
        "store the plan in this thread or run in the thread that has it")
    assert len(dispatcher.calls) == 1
    assert rt.get_plan("r1", thread_id="plans-b")["status"] == "draft"


def _to_old_layout(path) -> None:
    """Rewrite a store's plans as the package wrote them before versions were per thread."""
    store = open_store({"kind": "sqlite", "path": str(path)})
    ops = []
    for key, record in store.items():
        head, sep, rest = key.partition("/thread-plans/")
        if sep:
            ops += [("delete", key, None),
                    ("put", f"{head}/plans/{record['baseId']}/v{record['version']}", record)]
        elif "/plan-ids/" in key:
            ops.append(("delete", key, None))
    store.write(ops)
    keys = store.keys()
    store.close()
    assert any("/plans/r1/v1" in k for k in keys) and not any("plan-ids/" in k for k in keys)


def test_a_run_paused_in_the_old_store_layout_resumes_and_executes_its_plan(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = run(run_until_gate(sqlite_runtime(db, dispatcher).query("restock", "t1")))[-1]
    assert gate["target"] == "r1@v1"
    _to_old_layout(db)

    fresh = sqlite_runtime(db, dispatcher)  # opening the store moves the plans
    assert fresh.get_plan("r1", thread_id="t1")["status"] == "pending_approval"
    run(fresh.respond_to_approval(gate["approvalId"], "approve"))
    rest = run(collect(fresh.query(None, "t1", resume=gate["resumeToken"])))
    assert rest[-1]["status"] == "completed" and len(dispatcher.calls) == 1
    assert dispatcher.calls[0][1]["idempotency_keys"] == ["t1/r1@v1#0", "t1/r1@v1#1"]
    assert fresh.get_plan("r1")["status"] == "executed"
    store = open_store({"kind": "sqlite", "path": str(db)})
    assert not any("/plans/" in k for k in store.keys())
    store.close()


def test_thread_ids_in_plan_keys_are_checked() -> None:
    rt = build_runtime()
    plans = rt._run_services.plans
    for bad in ("", "a/b", None):
        with pytest.raises(ValueError, match="thread_id must be a non-empty string"):
            plans.store(spec_name="restock", body={"actions": []}, actions=[], base_id="p",
                        author="planner", run_id="r", thread_id=bad)
    assert rt.list_plans() == []
