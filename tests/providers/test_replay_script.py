"""script_from_trace: cutting recorded events into scripted turns."""

from __future__ import annotations

from typing import Any

import pytest

from flowai_nb.interpreters.replay import script_from_trace


def events(*specs: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": kind, "agent": agent, "seq": i, **fields}
            for i, (kind, agent, fields) in enumerate(specs)]


def call(who: str, tool: str, **args: Any) -> tuple[str, str, dict[str, Any]]:
    return ("tool-call", who, {"callId": f"{tool}-{args}", "tool": tool, "args": args})


def result(agent: str, tool: str) -> tuple[str, str, dict[str, Any]]:
    return ("tool-result", agent, {"callId": "x", "tool": tool, "result": "ok"})


def usage(agent: str, i: int, o: int, cost: float | None = None) -> tuple[str, str, dict]:
    fields: dict[str, Any] = {"inputTokens": i, "outputTokens": o}
    if cost is not None:
        fields["costUsd"] = cost
    return ("usage", agent, fields)


def test_parallel_calls_announced_one_by_one_stay_one_turn():
    # The engine reports a turn's usage, then runs each call before announcing the next.
    trace = {"events": events(
        ("run-start", "coord", {"prompt": "go"}),
        ("agent-start", "coord", {}),
        ("text-delta", "coord", {"delta": "Let me "}),
        ("text-delta", "coord", {"delta": "check."}),
        usage("coord", 10, 4, 0.001),
        call("coord", "lookup", store=1),
        result("coord", "lookup"),
        call("coord", "lookup", store=2),
        result("coord", "lookup"),
        usage("coord", 20, 3),
        call("coord", "restock", sku="A"),
        result("coord", "restock"),
        ("text-delta", "coord", {"delta": "Done"}),
        usage("coord", 30, 1),
        ("agent-finish", "coord", {"text": "Done"}),
        ("run-finish", "coord", {"status": "completed"}),
    )}
    assert script_from_trace(trace) == {"coord": [
        {"text": ["Let me ", "check."],
         "tools": [{"tool": "lookup", "args": {"store": 1}},
                   {"tool": "lookup", "args": {"store": 2}}],
         "usage": {"inputTokens": 10, "outputTokens": 4, "costUsd": 0.001}},
        {"tool": "restock", "args": {"sku": "A"}, "usage": {"inputTokens": 20, "outputTokens": 3}},
        {"text": ["Done"], "usage": {"inputTokens": 30, "outputTokens": 1}},
    ]}


def test_calls_announced_together_before_results():
    trace = events(
        ("agent-start", "a", {}),
        call("a", "t1", n=1),
        call("a", "t2", n=2),
        usage("a", 1, 1),
        result("a", "t1"),
        result("a", "t2"),
        call("a", "t3"),
        usage("a", 1, 1),
        result("a", "t3"),
        ("reasoning-delta", "a", {"delta": "hmm"}),
        ("text-delta", "a", {"delta": "end"}),
        ("agent-finish", "a", {}),
    )
    turns = script_from_trace(trace)["a"]
    assert [t.get("tools") or t.get("tool") or t.get("text") for t in turns] == [
        [{"tool": "t1", "args": {"n": 1}}, {"tool": "t2", "args": {"n": 2}}], "t3", ["end"]]
    assert turns[2]["reasoning"] == ["hmm"]


def test_without_usage_a_call_after_a_result_is_a_new_turn_and_empty_answers_count():
    trace = events(
        ("agent-start", "a", {}),
        call("a", "t1"),
        result("a", "t1"),
        call("a", "t2"),
        result("a", "t2"),
        ("agent-finish", "a", {"text": ""}),
    )
    assert script_from_trace(trace) == {"a": [
        {"tool": "t1", "args": {}}, {"tool": "t2", "args": {}}, {"text": ""}]}


def test_agents_are_cut_apart_and_invocations_concatenate():
    trace = events(
        ("agent-start", "coord", {}),
        call("coord", "call_agent", agent="helper", prompt="one"),
        ("agent-start", "helper", {"parentId": "c1"}),
        ("text-delta", "helper", {"delta": "first"}),
        ("agent-finish", "helper", {}),
        result("coord", "call_agent"),
        call("coord", "call_agent", agent="helper", prompt="two"),
        ("agent-start", "helper", {"parentId": "c2"}),
        ("text-delta", "helper", {"delta": "second"}),
        ("agent-finish", "helper", {}),
        result("coord", "call_agent"),
        ("text-delta", "coord", {"delta": "both done"}),
        ("agent-finish", "coord", {}),
    )
    script = script_from_trace(trace)
    assert script["helper"] == [{"text": ["first"]}, {"text": ["second"]}]
    assert [t.get("args", {}).get("prompt") for t in script["coord"][:2]] == ["one", "two"]
    assert script["coord"][2] == {"text": ["both done"]}


def test_agent_stopped_by_max_turns_gets_no_invented_answer():
    trace = events(
        ("agent-start", "a", {}),
        call("a", "t1"),
        result("a", "t1"),
        ("error", "a", {"message": "reached maxTurns"}),
        ("agent-finish", "a", {"error": "reached maxTurns"}),
    )
    assert script_from_trace(trace) == {"a": [{"tool": "t1", "args": {}}]}


def test_not_a_trace_is_a_clear_error():
    with pytest.raises(ValueError, match="'events'"):
        script_from_trace({"traceId": "t"})
    with pytest.raises(ValueError, match="event dicts"):
        script_from_trace(["not an event"])
