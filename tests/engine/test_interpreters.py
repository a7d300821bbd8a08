"""SPEC §9: scripted scripts from providers, from the prompt, and from a recorded trace."""

from __future__ import annotations

import json

import pytest

import flowai_nb as fa

from .conftest import FLOW, Dispatcher, build_spec, collect, of, run


def summary(events: list[dict], dispatcher: Dispatcher) -> dict:
    return {
        "tool_calls": [(e["agent"], e["tool"], e["args"]) for e in of(events, "tool-call")],
        "plans": [(e["planId"], e["actions"]) for e in of(events, "plan-stored")],
        "dispatched": [actions for actions, _ in dispatcher.calls],
        "deltas": [e["delta"] for e in of(events, "text-delta")],
        "text": events[-1]["text"],
        "status": events[-1]["status"],
    }


def test_a_recorded_trace_replays_to_the_same_calls_plans_and_text() -> None:
    original_dispatch = Dispatcher()
    original = fa.create_runtime(build_spec(), interpreter="scripted",
                                 action_dispatcher=original_dispatch)
    events = run(collect(original.query("restock", "t1", approvals="auto_approve")))
    trace = json.loads(json.dumps(original.get_trace(events[-1]["traceId"])))

    replay_dispatch = Dispatcher()
    spec = fa.define_runtime(
        build_spec().tenant, agents=list(build_spec().agents),
        providers={"scripted": {"replay": trace}})
    replay = fa.create_runtime(spec, interpreter="scripted", action_dispatcher=replay_dispatch)
    replayed = run(collect(replay.query("restock", "t-replay", approvals="auto_approve")))
    assert summary(replayed, replay_dispatch) == summary(events, original_dispatch)
    assert summary(replayed, replay_dispatch)["text"] == "All done."


def test_parallel_calls_replay_as_parallel_calls() -> None:
    scripts = {"analyst": [{"text": ["Checking ", "both"],
                            "tools": [{"tool": "stock_level", "args": {"sku": "A"}},
                                      {"tool": "stock_level", "args": {"sku": "B"}}]},
                           {"text": "A and B: 3 each"}]}
    first = fa.create_runtime(build_spec(scripts), interpreter="scripted")
    events = run(collect(first.run_specialist("analyst", "x")))
    trace = first.get_trace(events[-1]["traceId"])
    from flowai_nb.interpreters.replay import script_from_trace

    assert script_from_trace(trace)["analyst"] == [
        {"text": ["Checking ", "both"],
         "tools": [{"tool": "stock_level", "args": {"sku": "A"}},
                   {"tool": "stock_level", "args": {"sku": "B"}}]},
        {"text": ["A and B: 3 each"]}]


def test_scripts_from_providers_keep_one_cursor_per_agent_per_thread() -> None:
    scripts = {"router": [{"text": "first"}, {"text": "second"}]}
    rt = fa.create_runtime(build_spec(scripts), interpreter="scripted")
    assert run(collect(rt.query("a", "t1")))[-1]["text"] == "first"
    assert run(collect(rt.query("a", "t2")))[-1]["text"] == "first"   # new thread, new cursor
    assert run(collect(rt.query("b", "t1")))[-1]["text"] == "second"  # same thread continues
    events = run(collect(rt.query("c", "t1")))
    assert "ran out: turn 3" in of(events, "error")[0]["message"]


def test_prompt_script_for_several_agents() -> None:
    rt = fa.create_runtime(build_spec({}), interpreter="scripted")
    prompt = json.dumps({"script": {
        "router": [{"tool": "call_agent", "args": {"agent": "analyst", "prompt": "look"}},
                   {"text": "router done"}],
        "analyst": [{"tool": "stock_level", "args": {"sku": "Q"}}, {"text": "3 units"}]}})
    events = run(collect(rt.query(prompt, "t")))
    assert events[-1]["text"] == "router done"
    assert of(events, "tool-result")[0]["result"] == {"sku": "Q", "units": 3}


def test_malformed_scripts_are_rejected_with_the_agent_and_turn() -> None:
    with pytest.raises(ValueError, match="agent 'router', turn 1: unknown key"):
        fa.create_runtime(build_spec({"router": [{"txt": "typo"}]}), interpreter="scripted")
    rt = fa.create_runtime(build_spec({}), interpreter="scripted")
    with pytest.raises(ValueError, match="agent 'router', turn 2"):
        rt.query(json.dumps({"script": [{"text": "ok"}, "oops"]}), "t")


def test_flow_fixture_is_complete() -> None:
    assert set(FLOW) == {"router", "planner", "executor"}
