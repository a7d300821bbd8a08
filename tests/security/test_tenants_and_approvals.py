"""Tenants never see each other's data on a shared store; approvals cannot be forged or
answered twice (SPEC §16)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import flowai_nb as fa
from flowai_nb.engine.errors import PlanNotFoundError
from tests.engine.conftest import Dispatcher, build_spec


def _runtime(tenant: str, store: Path, dispatcher: Dispatcher | None = None) -> fa.Runtime:
    spec = build_spec(tenant=tenant, storage={"kv": {"kind": "sqlite", "path": str(store)}})
    return fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatcher)


def _pause(rt: fa.Runtime, thread: str) -> dict[str, Any]:
    """Run the plan flow up to its approval and leave it paused; return that event."""
    async def main() -> dict[str, Any]:
        async for event in rt.query("restock", thread):
            if event["type"] == "approval-required":
                return event
        raise AssertionError("the run never asked for approval")

    return asyncio.run(main())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "shared.sqlite"


def test_another_tenant_on_the_same_store_sees_nothing(store: Path) -> None:
    acme, globex = _runtime("acme", store), _runtime("globex", store)
    try:
        gate = _pause(acme, "t1")
        envelope = asyncio.run(acme.create_reference("tool_result", {"secret": 42}))
        trace_id = f"trace-{gate['runId']}"
        plan_id = gate["target"]
        assert acme.pending_approvals() and acme.get_trace(trace_id) is not None
        acme._run_services.user_kv.put("note", {"secret": 42})

        assert globex.pending_approvals() == []
        with pytest.raises(RuntimeError, match="unknown approval id"):
            globex.respond_to_approval(gate["approvalId"], "approve")
        with pytest.raises(LookupError):
            asyncio.run(globex.resolve_reference(envelope))
        assert globex.get_trace(trace_id) is None and globex.list_traces() == []
        with pytest.raises(PlanNotFoundError):
            globex.get_plan(plan_id)
        assert globex.list_plans() == []
        with pytest.raises(RuntimeError, match="nothing to resume"):
            globex.query(None, "t1", resume=gate["resumeToken"])
        assert globex._run_services.user_kv.get("note") is None
        assert acme.pending_approvals()  # and acme's approval is untouched
    finally:
        acme.close()
        globex.close()


def test_a_data_environment_of_another_tenant_is_refused() -> None:
    spec = build_spec(tenant="acme")
    with pytest.raises(ValueError, match="does not match the runtime tenant"):
        fa.create_runtime(spec, interpreter="scripted",
                          data_environment={"tenant_id": "globex", "catalog": "empty"})


def test_forged_approval_answers_are_refused(store: Path) -> None:
    dispatcher = Dispatcher()
    rt = _runtime("acme", store, dispatcher)
    try:
        gate = _pause(rt, "t1")
        approval_id = gate["approvalId"]
        forged = approval_id.replace(gate["runId"], "run-000000000000")
        with pytest.raises(RuntimeError, match="unknown approval id"):
            rt.respond_to_approval(forged, "approve")
        with pytest.raises(ValueError, match="outcome"):
            rt.respond_to_approval(approval_id, "yes")
        with pytest.raises(ValueError, match="partial approval"):
            rt.respond_to_approval(approval_id, "approve", None, {"actions": [7]})
        with pytest.raises(ValueError, match="partial approval"):
            rt.respond_to_approval(approval_id, "approve", None, {"actions": [0], "all": True})
        with pytest.raises(RuntimeError, match="nothing to resume"):
            rt.query(None, "t1", resume="resume-run-000000000000")
        with pytest.raises(ValueError, match="not a flowai_nb resume token"):
            rt.query(None, "t1", resume=approval_id)
        with pytest.raises(ValueError, match="belongs to thread"):
            rt.query(None, "other-thread", resume=gate["resumeToken"])
        assert [a["approvalId"] for a in rt.pending_approvals()] == [approval_id]
        assert dispatcher.calls == []  # nothing ran on a forged or refused answer
    finally:
        rt.close()


@pytest.mark.parametrize("attempts", [2, 8])
def test_a_double_approve_race_has_exactly_one_winner_and_one_dispatch(
        store: Path, attempts: int) -> None:
    dispatcher = Dispatcher()
    first = _runtime("acme", store, dispatcher)
    gate = _pause(first, "t1")
    # several runtimes (as several kernels would) answer the same approval at once
    runtimes = [first] + [_runtime("acme", store, dispatcher) for _ in range(attempts - 1)]
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def answer(rt: fa.Runtime, outcome: str) -> None:
        barrier.wait()
        try:
            rt.respond_to_approval(gate["approvalId"], outcome)
            outcomes.append(f"won:{outcome}")
        except RuntimeError as exc:
            assert "already resolved" in str(exc)
            outcomes.append("lost")

    threads = [threading.Thread(target=answer, args=(rt, "approve" if i % 2 else "reject"))
               for i, rt in enumerate(runtimes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        won = [o for o in outcomes if o.startswith("won")]
        assert len(won) == 1 and outcomes.count("lost") == attempts - 1, outcomes
        events = asyncio.run(asyncio.wait_for(
            first.query(None, "t1", resume=gate["resumeToken"]).collect(), 60))
        assert events[-1]["type"] == "run-finish"
        decision = [e for e in events if e["type"] == "approval-decision"]
        assert [d["outcome"] for d in decision] == [won[0].split(":")[1]]
        assert len(dispatcher.calls) == (1 if won[0] == "won:approve" else 0)
    finally:
        for rt in runtimes:
            rt.close()
