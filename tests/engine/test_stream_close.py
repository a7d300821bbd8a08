"""SPEC §3 / §5: a consumer that stops following a run leaves nothing stranded.

``RunStream.close()`` / ``aclose()`` and the context-manager forms: a run closed at its
gate stays paused and resumable anywhere; a plain ``for`` run closed half-way is cancelled
(with ``run-finish``); an ``async for`` run closed half-way keeps running for its other
followers. A ``for`` stream abandoned at a gate (no close) exits cleanly and the run is
resumed by a second process.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path

import pytest

import flowai_nb as fa
from tests.servers import fresh_postgres_url, postgres_url  # noqa: F401

from .conftest import Dispatcher, build_spec, collect, of, run, types

ROOT = Path(__file__).resolve().parents[2]


def sqlite_runtime(path: Path, dispatcher: Dispatcher, **kw) -> fa.Runtime:
    spec = build_spec(storage={"kv": {"kind": "sqlite", "config": {"path": str(path)}}})
    return fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatcher, **kw)


def until_gate(stream) -> list[dict]:
    events = []
    for event in stream:
        events.append(event)
        if event["type"] == "approval-required":
            break
    return events


def resume_and_finish(rt: fa.Runtime, gate: dict) -> list[dict]:
    rt.respond_to_approval(gate["approvalId"], "approve")
    return list(rt.query(None, gate["threadId"], resume=gate["resumeToken"]))


def closed_at_the_gate(rt: fa.Runtime) -> dict:
    """Run to the gate in a ``with`` block that leaves there; the ``approval-required``."""
    with rt.query("restock", "t1") as stream:
        return until_gate(stream)[-1]


def the_trace(rt: fa.Runtime, thread: str = "t1") -> dict:
    (trace,) = rt.list_traces(thread_id=thread)
    return trace


# -- a gate ------------------------------------------------------------------------------
def test_close_at_a_gate_leaves_the_run_paused_for_a_fresh_runtime(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    first = sqlite_runtime(db, dispatcher)
    stream = first.query("restock", "t1")
    gate = until_gate(stream)[-1]
    stream.close()

    assert stream.closed and stream.status == "paused"
    assert stream.pending_approval == gate["approvalId"]
    assert stream.resume_token == gate["resumeToken"]
    assert list(stream) == []  # a closed stream yields nothing more
    assert "closed" in repr(stream)
    with pytest.raises(RuntimeError, match="was closed"):
        run(_start(stream))
    # paused in the store: the approval is listed, no run-finish was written
    assert [p["approvalId"] for p in first.pending_approvals()] == [gate["approvalId"]]
    trace = the_trace(first)
    assert trace["status"] == "paused" and types(trace["events"])[-1] == "approval-required"

    # another runtime (another process: another lease owner) resumes it at once
    fresh = sqlite_runtime(db, dispatcher)
    rest = resume_and_finish(fresh, gate)
    assert rest[-1]["type"] == "run-finish" and rest[-1]["status"] == "completed"
    assert rest[0]["seq"] == gate["seq"] + 1
    assert len(dispatcher.calls) == 1 and fresh.get_plan("r1")["status"] == "executed"


async def _start(stream) -> None:
    stream.start()


def test_close_at_a_gate_then_resume_in_the_same_runtime() -> None:
    dispatcher = Dispatcher()
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=dispatcher)
    stream = rt.query("restock", "t1")
    gate = until_gate(stream)[-1]
    stream.close()
    rest = resume_and_finish(rt, gate)
    assert rest[-1]["status"] == "completed" and len(dispatcher.calls) == 1
    assert stream.status == "paused"  # the closed stream's copy never moved on


def test_close_at_a_gate_in_a_notebook_cell(tmp_path) -> None:
    """A plain ``for`` inside a running loop (a notebook cell) drives the run on a helper
    thread; closing it there works the same."""
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    rt = sqlite_runtime(db, dispatcher)

    async def cell():
        with rt.query("restock", "t1") as stream:
            gate = until_gate(stream)[-1]
        return gate, stream

    gate, stream = run(cell())
    assert stream.closed and stream.status == "paused"
    rest = resume_and_finish(sqlite_runtime(db, dispatcher), gate)
    assert rest[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def test_the_context_manager_closes_at_the_gate_also_on_an_error(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    rt = sqlite_runtime(db, dispatcher)
    with pytest.raises(RuntimeError, match="waiting for approval"):
        with rt.query("restock", "t1") as stream:
            for event in stream:  # the next step after the gate raises: nobody answers
                if event["type"] == "approval-required":
                    gate = event
    assert stream.closed and stream.status == "paused"
    assert "stream.close()" in repr(_gate_error(rt))
    rest = resume_and_finish(sqlite_runtime(db, dispatcher), gate)
    assert rest[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def _gate_error(rt: fa.Runtime) -> BaseException:
    stream = rt.query("restock", "t2")
    until_gate(stream)
    try:
        next(stream)
    except RuntimeError as exc:
        return exc
    finally:
        stream.close()
    raise AssertionError("no error at the gate")


def test_async_aclose_while_parked_ends_the_task_and_keeps_the_run_resumable(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    rt = sqlite_runtime(db, dispatcher)

    async def main():
        stream = rt.query("restock", "t1")
        async for event in stream:
            if event["type"] == "approval-required":
                break
        await asyncio.sleep(0.05)  # parked on the live loop
        with pytest.raises(RuntimeError, match="already has a run in progress"):
            rt.query("again", "t1")
        await stream.aclose()
        await stream.aclose()  # twice is fine
        rt.query("again", "t1")  # its task in this process has ended: the thread is free
        assert [e async for e in stream] == []
        return event, stream

    gate, stream = run(main())
    assert stream.status == "paused" and stream.pending_approval == gate["approvalId"]
    assert [p["approvalId"] for p in rt.pending_approvals()] == [gate["approvalId"]]
    assert the_trace(rt)["status"] == "paused"
    rest = resume_and_finish(sqlite_runtime(db, dispatcher), gate)
    assert rest[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def test_close_from_another_thread_stops_an_async_consumer_waiting_at_the_gate() -> None:
    dispatcher = Dispatcher()
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=dispatcher)
    stream = rt.query("restock", "t1")
    at_gate = threading.Event()
    loop = asyncio.new_event_loop()
    looper = threading.Thread(target=loop.run_forever)
    looper.start()

    async def consume() -> list[dict]:
        seen = []
        async for event in stream:  # waits on past the gate: nobody answers here
            seen.append(event)
            if event["type"] == "approval-required":
                at_gate.set()
        return seen

    try:
        consumer = asyncio.run_coroutine_threadsafe(consume(), loop)
        assert at_gate.wait(10)
        stream.close()  # from this thread, while the loop runs in the other one
        seen = consumer.result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        looper.join(10)
    loop.close()
    assert types(seen)[-1] == "approval-required" and stream.status == "paused"
    rest = resume_and_finish(rt, seen[-1])
    assert rest[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def test_async_with_closes_the_stream_at_the_gate() -> None:
    dispatcher = Dispatcher()
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=dispatcher)

    async def main():
        async with rt.query("restock", "t1") as stream:
            async for event in stream:
                if event["type"] == "approval-required":
                    break
        assert stream.closed
        await rt.respond_to_approval(event["approvalId"], "approve")
        # the closed copy let go of the run: resuming in this loop restores it from the store
        return await collect(rt.query(None, "t1", resume=event["resumeToken"]))

    rest = run(main())
    assert rest[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def test_a_for_loop_resuming_before_the_decision_raises_instead_of_hanging(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = closed_at_the_gate(sqlite_runtime(db, dispatcher))
    fresh = sqlite_runtime(db, dispatcher)
    resumed = fresh.query(None, "t1", resume=gate["resumeToken"])
    with pytest.raises(RuntimeError, match="waiting for approval"):
        next(resumed)
    assert resumed.status == "paused" and resumed.pending_approval == gate["approvalId"]
    fresh.respond_to_approval(gate["approvalId"], "approve")
    rest = list(resumed)  # answered: the same stream goes on
    assert types(rest)[0] == "approval-decision" and rest[-1]["status"] == "completed"
    assert len(dispatcher.calls) == 1


def test_cancel_after_close_at_a_gate_ends_the_paused_run() -> None:
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=Dispatcher())
    with rt.query("restock", "t1") as stream:
        gate = until_gate(stream)[-1]
    stream.cancel()
    assert stream.status == "cancelled" and rt.pending_approvals() == []
    assert rt.get_plan("r1")["status"] == "draft"  # the withdrawn approval's plan
    trace = the_trace(rt)
    assert trace["status"] == "cancelled" and trace["events"][-1]["type"] == "run-finish"
    with pytest.raises(RuntimeError, match="nothing to resume"):
        rt.query(None, "t1", resume=gate["resumeToken"])


def test_cancel_of_a_resumed_run_before_it_starts_ends_it_in_the_store(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = closed_at_the_gate(sqlite_runtime(db, dispatcher))
    fresh = sqlite_runtime(db, dispatcher)
    fresh.query(None, "t1", resume=gate["resumeToken"]).cancel()
    assert fresh.pending_approvals() == [] and fresh.get_plan("r1")["status"] == "draft"
    events = the_trace(fresh)["events"]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "cancelled"
    calls = [e["callId"] for e in events if e["type"] == "tool-call"]
    assert sorted(calls) == sorted(e["callId"] for e in events if e["type"] == "tool-result")
    with pytest.raises(RuntimeError, match="nothing to resume"):
        sqlite_runtime(db, dispatcher).query(None, "t1", resume=gate["resumeToken"])
    assert dispatcher.calls == []


def test_cancel_of_a_paused_run_another_runtime_holds_says_so(tmp_path) -> None:
    dispatcher = Dispatcher()
    db = tmp_path / "kv.db"
    gate = closed_at_the_gate(sqlite_runtime(db, dispatcher))
    resumed = sqlite_runtime(db, dispatcher).query(None, "t1", resume=gate["resumeToken"])
    holder = sqlite_runtime(db, dispatcher)
    holder._run_services.leases.acquire(gate["runId"], "owner-elsewhere", 30)
    with pytest.raises(RuntimeError, match="owner-elsewhere"):
        resumed.cancel()
    assert [p["approvalId"] for p in holder.pending_approvals()] == [gate["approvalId"]]


# -- finished, unstarted, twice ----------------------------------------------------------
def test_close_after_the_run_finished_is_a_no_op() -> None:
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=Dispatcher())
    with rt.query("restock", "t1", approvals="auto_approve") as stream:
        events = list(stream)
    stream.close()
    stream.close()
    assert events[-1]["status"] == "completed" and stream.status == "completed"
    assert the_trace(rt)["status"] == "completed" and list(stream) == []


def test_finished_and_closed_for_streams_are_garbage_collected() -> None:
    """Neither a finished nor a closed ``for`` stream is kept alive by its exit hook (a
    long notebook session runs many)."""
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=Dispatcher())
    finished = rt.query("restock", "t1", approvals="auto_approve")
    assert list(finished)[-1]["status"] == "completed"
    closed = rt.query("restock", "t2")
    until_gate(closed)
    closed.close()
    refs = [weakref.ref(finished), weakref.ref(closed)]
    del finished, closed
    gc.collect()
    assert [ref() for ref in refs] == [None, None]


def test_close_before_the_first_step_never_starts_the_run() -> None:
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=Dispatcher())
    stream = rt.query("restock", "t1")
    stream.close()
    assert list(stream) == [] and rt.list_traces() == []

    async def main():
        stream = rt.query("restock", "t2")
        stream.start()
        await stream.aclose()
        await asyncio.sleep(0.05)
        return [e async for e in stream]

    assert run(main()) == [] and rt.list_traces() == []


# -- a run still working -------------------------------------------------------------------
class Gate:
    """A tool handler that blocks until released, so a run can be caught mid-call."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self, args, ctx):
        self.started.set()
        self.release.wait(30)
        self.finished.set()
        return {"ok": True}


def slow_runtime(handler, storage: dict | None = None) -> fa.Runtime:
    tool = fa.define_tool("slow", "Takes a while", {})(handler)
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[fa.define_specialist("ops", model="m", prompt="p", tools=[tool])],
        providers={"scripted": {"scripts": {"ops": [{"tool": "slow", "args": {}},
                                                    {"text": "done"}]}}},
        storage_factories={"kv": storage} if storage else None)
    return fa.create_runtime(spec, interpreter="scripted")


def test_closing_a_for_stream_mid_tool_call_cancels_the_run_with_run_finish() -> None:
    handler = Gate()
    rt = slow_runtime(handler)
    stream = rt.run_specialist("ops", "go", "t1")
    for event in stream:
        if event["type"] == "tool-call":
            break
    assert handler.started.wait(10)
    stream.close()  # nobody would drive the half-run again: it is cancelled
    assert stream.status == "cancelled"
    trace = the_trace(rt)
    assert trace["status"] == "cancelled"
    assert trace["events"][-1]["type"] == "run-finish"
    assert trace["events"][-1]["status"] == "cancelled"
    (result,) = of(trace["events"], "tool-result")
    assert "not completed" in result["error"]
    handler.release.set()
    assert handler.finished.wait(10)  # the abandoned call ran on; nothing else happened
    assert the_trace(rt)["events"] == trace["events"]


def test_close_from_another_thread_stops_a_for_loop_at_its_next_step() -> None:
    handler = Gate()
    rt = slow_runtime(handler)
    stream = rt.run_specialist("ops", "go", "t1")
    seen: list[dict] = []

    def consume() -> None:
        for event in stream:
            seen.append(event)

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert handler.started.wait(10)  # the consumer waits in a `for` step
    stream.close()
    consumer.join(30)
    assert not consumer.is_alive()
    assert "run-finish" not in types(seen)  # it stopped following; unread events dropped
    assert stream.status == "cancelled" and the_trace(rt)["status"] == "cancelled"
    handler.release.set()


def test_aclose_mid_run_leaves_the_run_running_for_other_followers() -> None:
    release = asyncio.Event

    async def main():
        gate = release()

        async def slow(args, ctx):
            await gate.wait()
            return {"ok": True}

        rt = slow_runtime(slow)
        stream = rt.run_specialist("ops", "go", "t1")
        async for event in stream:
            if event["type"] == "tool-call":
                break
        await stream.aclose()
        follower = rt.subscribe(run_id=stream.run_id)
        gate.set()
        followed = [e async for e in follower]
        return stream, followed

    stream, followed = run(main())
    assert followed[-1]["type"] == "run-finish" and followed[-1]["status"] == "completed"
    assert stream.status == "completed" and stream.text == "done"


def test_a_headless_policy_run_closed_at_its_approval_event_is_not_left_half_done() -> None:
    """With ``approvals='auto_approve'`` the gate never parks: closing the ``for`` stream
    on ``approval-required`` ends the run (it is over or cancelled), never a paused or
    half-run left behind."""
    dispatcher = Dispatcher()
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=dispatcher)
    stream = rt.query("restock", "t1", approvals="auto_approve")
    until_gate(stream)
    stream.close()
    trace = the_trace(rt)
    assert trace["status"] in ("completed", "cancelled") and stream.status == trace["status"]
    assert trace["events"][-1]["type"] == "run-finish"
    assert rt.pending_approvals() == [] and len(dispatcher.calls) <= 1
    with pytest.raises(RuntimeError, match="nothing to resume"):
        rt.query(None, "t1", resume=stream.resume_token)


def test_cancel_then_close_on_a_for_stream_at_a_gate_cancels_the_run() -> None:
    rt = fa.create_runtime(build_spec(), interpreter="scripted", action_dispatcher=Dispatcher())
    stream = rt.query("restock", "t1")
    gate = until_gate(stream)[-1]
    stream.cancel()
    stream.close()
    assert stream.status == "cancelled" and rt.pending_approvals() == []
    assert the_trace(rt)["events"][-1]["status"] == "cancelled"
    with pytest.raises(RuntimeError, match="nothing to resume"):
        rt.query(None, "t1", resume=gate["resumeToken"])


# -- a stream abandoned at a gate, Ctrl-C, interpreter exit ---------------------------------
CHILD = textwrap.dedent('''
    import json, os, signal, sys, threading, time
    # Ctrl-C as a user's terminal delivers it, also when the test runner was started with
    # SIGINT ignored (a background job of a non-interactive shell): children inherit that
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, sys.argv[1])
    import flowai_nb as fa
    from tests.engine.conftest import build_spec
    from tests.engine.test_stream_close import Gate, slow_runtime

    mode, storage, log = sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]

    def report(**fields):
        print(json.dumps(fields), flush=True)

    if mode in ("abandon-mid-call", "trace"):
        handler = Gate()
        rt = slow_runtime(handler, storage)
        if mode == "trace":
            (trace,) = rt.list_traces()
            report(status=trace["status"], last=trace["events"][-1]["type"])
            sys.exit(0)
        stream = rt.run_specialist("ops", "go", "t1")
        for event in stream:
            if event["type"] == "tool-call":
                break
        handler.started.wait(30)
        report(status=stream.status)  # exits with the handler still running
        sys.exit(0)

    def dispatch(actions, ctx):
        with open(log, "a") as f:
            f.write(json.dumps(ctx["idempotency_keys"]) + "\\n")
        return {"entitiesAffected": len(actions)}

    rt = fa.create_runtime(build_spec(storage={"kv": storage}), interpreter="scripted",
                           action_dispatcher=dispatch)

    if mode == "resume":
        (pending,) = rt.pending_approvals()
        rt.respond_to_approval(pending["approvalId"], "approve")
        events = list(rt.query(None, "t1", resume=pending["resumeToken"]))
        report(status=events[-1]["status"], plan=rt.get_plan("r1")["status"])
        rt.close()
        sys.exit(0)

    stream = rt.query("restock", "t1")
    if mode.startswith("abandon"):  # the natural script: stop at the gate, answer later
        for event in stream:
            if event["type"] == "approval-required":
                break
        report(status=stream.status)
        if mode == "abandon-closing-runtime":  # its stores close before the stream does
            rt.close()
        sys.exit(0)

    # Ctrl-C while a `for` step waits at the gate (a timeout makes the step wait)
    rt.approval_timeout = 600
    at_gate = threading.Event()

    def interrupt():
        at_gate.wait(60)
        time.sleep(0.3)  # the main thread is inside the step by now
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    try:
        for event in stream:
            if event["type"] == "approval-required":
                at_gate.set()
    except KeyboardInterrupt:
        pass
    pending = [p["approvalId"] for p in rt.pending_approvals()]
    if mode == "interrupt-continue":  # answer, then go on with the same stream
        rt.respond_to_approval(pending[0], "approve")
        rest = list(stream)
        report(status=rest[-1]["status"], plan=rt.get_plan("r1")["status"])
    else:
        report(status=stream.status, pending=len(pending))
''')


def _child(mode: str, storage: dict, log: Path) -> tuple[dict, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWAI_NB_APPROVAL", None)
    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", CHILD, str(ROOT), mode,
         json.dumps(storage), str(log)],
        env=env, capture_output=True, text=True, timeout=120)  # a hang fails here
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_for_stream_abandoned_at_a_gate_exits_cleanly(kind, tmp_path) -> None:
    storage = {"kind": "memory"} if kind == "memory" else \
        {"kind": "sqlite", "config": {"path": str(tmp_path / "kv.db")}}
    _abandon_then_resume(storage, tmp_path)


@pytest.mark.postgres
def test_a_for_stream_abandoned_at_a_gate_on_postgres(tmp_path,
                                                      fresh_postgres_url) -> None:  # noqa: F811
    # (the runtime is closed: an open PostgreSQL connection warns when garbage-collected)
    _abandon_then_resume({"kind": "postgres", "config": {"url": fresh_postgres_url}}, tmp_path,
                         "abandon-closing-runtime")


def _abandon_then_resume(storage: dict, tmp_path: Path, mode: str = "abandon") -> None:
    log = tmp_path / "dispatched.log"
    outcome, stderr = _child(mode, storage, log)
    assert outcome == {"status": "paused"}
    assert stderr == ""  # no "Task was destroyed but it is pending!", no ResourceWarning
    if storage["kind"] != "memory":  # a second process resumes and finishes it: once
        outcome, stderr = _child("resume", storage, log)
        assert outcome == {"status": "completed", "plan": "executed"} and stderr == ""
        assert log.read_text().splitlines() == ['["t1/r1@v1#0", "t1/r1@v1#1"]']


def test_ctrl_c_at_a_gate_leaves_the_run_paused_and_the_exit_clean(tmp_path) -> None:
    storage = {"kind": "sqlite", "config": {"path": str(tmp_path / "kv.db")}}
    log = tmp_path / "dispatched.log"
    outcome, stderr = _child("interrupt", storage, log)
    assert outcome == {"status": "paused", "pending": 1} and stderr == ""
    outcome, stderr = _child("resume", storage, log)
    assert outcome == {"status": "completed", "plan": "executed"} and stderr == ""
    assert len(log.read_text().splitlines()) == 1


def test_after_ctrl_c_at_a_gate_the_same_stream_goes_on(tmp_path) -> None:
    log = tmp_path / "dispatched.log"
    outcome, stderr = _child("interrupt-continue", {"kind": "memory"}, log)
    assert outcome == {"status": "completed", "plan": "executed"} and stderr == ""
    assert len(log.read_text().splitlines()) == 1


def test_a_for_stream_abandoned_mid_tool_call_ends_with_run_finish_at_exit(tmp_path) -> None:
    storage = {"kind": "sqlite", "config": {"path": str(tmp_path / "kv.db")}}
    outcome, stderr = _child("abandon-mid-call", storage, tmp_path / "unused.log")
    assert outcome == {"status": "running"} and stderr == ""
    outcome, stderr = _child("trace", storage, tmp_path / "unused.log")
    assert outcome == {"status": "cancelled", "last": "run-finish"}
