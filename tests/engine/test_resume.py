"""SPEC §3 resume: a paused run survives a kernel restart with a persistent store."""

from __future__ import annotations

import asyncio

import pytest

import flowai_nb as fa

from .conftest import Dispatcher, build_spec, collect, of, run, types


def sqlite_runtime(path, dispatcher) -> fa.Runtime:
    spec = build_spec(storage={"kv": {"kind": "sqlite", "config": {"path": str(path)}}})
    return fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatcher)


async def run_until_gate(stream) -> list[dict]:
    events = []
    async for event in stream:
        events.append(event)
        if event["type"] == "approval-required":
            break  # the consumer walks away: the run stays paused
    return events


def test_resume_in_a_new_runtime_after_a_kernel_restart(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    first = run(run_until_gate(sqlite_runtime(db, dispatcher).query("restock", "t1")))
    gate = first[-1]
    assert gate["type"] == "approval-required"

    # "kernel restart": a brand-new runtime over the same store
    fresh = sqlite_runtime(db, dispatcher)
    assert [p["approvalId"] for p in fresh.pending_approvals()] == [gate["approvalId"]]
    run(fresh.respond_to_approval(gate["approvalId"], "approve"))
    rest = run(collect(fresh.query(None, "t1", resume=gate["resumeToken"])))

    assert len(dispatcher.calls) == 1
    assert rest[0]["type"] == "approval-decision" and rest[0]["seq"] == gate["seq"] + 1
    assert {e["runId"] for e in rest} == {gate["runId"]}
    assert [e["seq"] for e in first + rest] == list(range(len(first) + len(rest)))
    assert rest[-1]["type"] == "run-finish" and rest[-1]["status"] == "completed"
    assert rest[-1]["text"] == "All done."
    # each tool call once as call and once as result across the pause
    calls = [e["callId"] for e in first + rest if e["type"] == "tool-call"]
    results = [e["callId"] for e in first + rest if e["type"] == "tool-result"]
    assert sorted(calls) == sorted(results) and len(set(calls)) == len(calls)
    # the trace holds the whole run
    trace = fresh.get_trace(rest[-1]["traceId"])
    assert [e["seq"] for e in trace["events"]] == list(range(len(first) + len(rest)))
    assert trace["status"] == "completed"
    with pytest.raises(RuntimeError, match="nothing to resume"):
        fresh.query(None, "t1", resume=gate["resumeToken"])


def test_resume_before_the_decision_waits_for_it(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = run(run_until_gate(sqlite_runtime(db, dispatcher).query("x", "t1")))[-1]
    fresh = sqlite_runtime(db, dispatcher)

    async def main():
        stream = fresh.query("", "t1", resume=gate["resumeToken"])
        task = asyncio.ensure_future(stream.collect())
        await asyncio.sleep(0.05)
        assert dispatcher.calls == [] and not task.done()
        await fresh.respond_to_approval(gate["approvalId"], "approve")
        return await task

    events = run(main())
    assert events[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def test_resume_in_the_same_process_follows_the_live_run() -> None:
    dispatcher = Dispatcher()
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=dispatcher)

    async def main():
        first = rt.query("x", "t1")
        gate = (await run_until_gate(first))[-1]
        await rt.respond_to_approval(gate["approvalId"], "approve")
        return await rt.query(None, "t1", resume=gate["resumeToken"]).collect()

    events = run(main())
    assert types(events)[0] == "approval-decision" and events[-1]["status"] == "completed"
    assert len(dispatcher.calls) == 1


def test_scripted_cursors_survive_the_restart(tmp_path) -> None:
    """The interpreter's position is persisted: the resumed run continues the script."""
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = run(run_until_gate(sqlite_runtime(db, dispatcher).query("x", "t1")))[-1]
    fresh = sqlite_runtime(db, dispatcher)
    run(fresh.respond_to_approval(gate["approvalId"], "reject", "no"))
    rest = run(collect(fresh.query(None, "t1", resume=gate["resumeToken"])))
    texts = [e["text"] for e in of(rest, "agent-finish")]
    assert texts == ["Executed.", "All done."]
    assert dispatcher.calls == []


def test_bad_resume_tokens() -> None:
    rt = fa.create_runtime(build_spec(), interpreter="scripted")
    with pytest.raises(ValueError, match="'abc'"):
        rt.query(None, "t", resume="abc")
    with pytest.raises(RuntimeError, match="resume-run-x"):
        rt.query(None, "t", resume="resume-run-x")


def test_a_second_process_cannot_continue_an_already_resumed_run(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = run(run_until_gate(sqlite_runtime(db, dispatcher).query("x", "t1")))[-1]
    a, b = sqlite_runtime(db, dispatcher), sqlite_runtime(db, dispatcher)
    run(a.respond_to_approval(gate["approvalId"], "approve"))
    stream_a = a.query(None, "t1", resume=gate["resumeToken"])
    stream_b = b.query(None, "t1", resume=gate["resumeToken"])

    async def both():
        return await asyncio.gather(stream_a.collect(), stream_b.collect(),
                                    return_exceptions=True)

    events_a, outcome_b = run(both())
    assert events_a[-1]["status"] == "completed" and len(dispatcher.calls) == 1
    assert isinstance(outcome_b, RuntimeError) and "already resumed" in str(outcome_b)


def test_cancel_on_a_stream_that_follows_a_live_run_cancels_the_run() -> None:
    dispatcher = Dispatcher()
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=dispatcher)

    async def main():
        gate = (await run_until_gate(rt.query("x", "t1")))[-1]
        follower = rt.query(None, "t1", resume=gate["resumeToken"])
        consumer = asyncio.ensure_future(follower.collect())
        await asyncio.sleep(0.05)  # the follower waits with the paused run
        follower.cancel()
        return await consumer

    events = run(asyncio.wait_for(main(), timeout=10))
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "cancelled"
    assert dispatcher.calls == [] and rt.pending_approvals() == []


def test_a_consumer_that_gives_up_on_a_resumed_run_does_not_strand_it(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = run(run_until_gate(sqlite_runtime(db, dispatcher).query("restock", "t1")))[-1]
    second = sqlite_runtime(db, dispatcher)

    async def give_up_after_a_moment():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(second.query(None, "t1", resume=gate["resumeToken"]).collect(),
                                   0.3)

    run(give_up_after_a_moment())  # re-attached, then the cell was interrupted
    third = sqlite_runtime(db, dispatcher)
    run(third.respond_to_approval(gate["approvalId"], "approve"))
    rest = run(collect(third.query(None, "t1", resume=gate["resumeToken"])))
    assert rest[-1]["status"] == "completed" and len(dispatcher.calls) == 1
    assert third.get_plan("r1")["status"] == "executed"


def test_a_live_lease_names_its_owner_and_expiry(tmp_path) -> None:
    from flowai_nb.engine.errors import RunLeasedError

    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = run(run_until_gate(sqlite_runtime(db, dispatcher).query("restock", "t1")))[-1]
    holder = sqlite_runtime(db, dispatcher)
    holder._run_services.leases.acquire(gate["runId"], "owner-elsewhere", 30)
    with pytest.raises(RunLeasedError, match="leased by owner 'owner-elsewhere' until 20") as err:
        sqlite_runtime(db, dispatcher).query(None, "t1", resume=gate["resumeToken"])
    assert err.value.owner == "owner-elsewhere" and err.value.expires_at > 0
    with pytest.raises(ValueError, match="lease_seconds must be a positive number"):
        holder.lease_seconds = 0
