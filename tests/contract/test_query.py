"""Reference §query (lines 10-19)."""

from __future__ import annotations

import pytest

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import BODY, drain, run, runtime

SCRIPTS = {
    "router": [{"tool": "call_agent", "args": {"agent": "planner", "prompt": "plan"}},
               {"tool": "call_agent", "args": {"agent": "executor", "prompt": "run"}},
               {"text": "done"}],
    "planner": [{"tool": "store_plan", "args": {"plan_id": "p1", "body": BODY}},
                {"text": "stored"}],
    "executor": [{"tool": "execute_plan", "args": {"plan_id": "p1"}}, {"text": "executed"}],
}


@cites(11, "query(self, /, prompt, thread_id, resume=None)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.query, 11)
    rt = runtime({"router": [{"text": "hi"}]})
    with pytest.raises(TypeError):
        rt.query(self=rt, prompt="x", thread_id="t")  # self is positional-only


@cites(17, "Run a coordinator turn and return an async-iterable event stream.")
def test_returns_an_async_iterable_stream_of_event_dicts() -> None:
    rt = runtime({"router": [{"text": "hello"}]})
    stream = rt.query("hi", "t1")
    assert hasattr(stream, "__aiter__")
    events = run(drain(stream))
    assert all(isinstance(e, dict) for e in events)
    assert events[0]["type"] == "run-start" and events[-1]["type"] == "run-finish"
    assert events[0]["agent"] == "router" and events[-1]["text"] == "hello"


@cites(18, "thread_id: Conversation thread identifier.")
def test_thread_id_is_carried_by_every_event() -> None:
    rt = runtime({"router": [{"text": "hello"}]})
    events = run(drain(rt.query("hi", thread_id="conv-7")))
    assert {e["threadId"] for e in events} == {"conv-7"}


@cites(18, "resume: Optional resume token continuing an interrupted run.")
def test_resume_token_continues_an_interrupted_run() -> None:
    rt = runtime(SCRIPTS, action_dispatcher=lambda actions, ctx: None)

    async def scenario() -> tuple[list[dict], list[dict]]:
        stream = rt.query("restock", "t1")
        first = []
        async for event in stream:
            first.append(event)
            if event["type"] == "approval-required":
                break
        gate = first[-1]
        await rt.respond_to_approval(gate["approvalId"], "approve")
        rest = await drain(rt.query(None, "t1", resume=gate["resumeToken"]))
        return first, rest

    first, rest = run(scenario())
    assert first[-1]["type"] == "approval-required" and first[-1]["resumeToken"]
    assert rest[-1]["type"] == "run-finish" and rest[-1]["status"] == "completed"
    assert rest[-1]["runId"] == first[0]["runId"]
