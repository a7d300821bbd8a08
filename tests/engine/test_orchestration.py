"""SPEC §4-5: the coordinator → planner → executor flow, events, failures, hooks."""

from __future__ import annotations

import json

import pytest

import flowai_nb as fa

from .conftest import FLOW, Dispatcher, build_runtime, collect, count_messages, of, run, types


def approve(event):
    return ("approve",)


def assert_paired(events: list[dict]) -> None:
    """Every tool call has exactly one result and every agent start one finish, even on failure."""
    calls = [e["callId"] for e in events if e["type"] == "tool-call"]
    results = [e["callId"] for e in events if e["type"] == "tool-result"]
    assert sorted(calls) == sorted(results) and len(set(calls)) == len(calls)
    starts = [(e["agent"], e.get("parentId")) for e in events if e["type"] == "agent-start"]
    finishes = [(e["agent"], e.get("parentId")) for e in events if e["type"] == "agent-finish"]
    assert sorted(starts, key=str) == sorted(finishes, key=str)
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert types(events).count("run-finish") == 1 and events[-1]["type"] == "run-finish"


def test_full_flow_runs_to_completion_with_one_dispatch(dispatcher: Dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    events = run(collect(rt.query("restock", "t1"), answer=approve))
    assert types(events)[0] == "run-start" and types(events)[-1] == "run-finish"
    assert events[-1]["status"] == "completed" and events[-1]["text"] == "All done."
    assert len(dispatcher.calls) == 1
    actions, ctx = dispatcher.calls[0]
    assert actions == [{"kind": "restock", "payload": {"sku": "A", "units": 10}, "references": []},
                       {"kind": "retire", "payload": {"sku": "Z"}, "references": []}]
    assert ctx["resolved_refs"] == {}
    statuses = [e["status"] for e in of(events, "plan-status")]
    assert statuses == ["pending_approval", "approved", "executing", "executed"]
    assert [e["status"] for e in of(events, "action-status")] == (
        ["executing"] * 2 + ["executed"] * 2)
    assert rt.get_plan("r1")["status"] == "executed"


def test_every_event_has_the_required_keys_and_gapless_seq(dispatcher: Dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    events = run(collect(rt.query("restock", "t1"), answer=approve))
    run_id = events[0]["runId"]
    for i, event in enumerate(events):
        assert {"type", "runId", "threadId", "seq", "ts", "agent"} <= set(event)
        assert event["seq"] == i and event["runId"] == run_id and event["threadId"] == "t1"
        json.dumps(event)  # JSON-serialisable
    start = events[0]
    assert start["prompt"] == "restock" and start["entryAgent"] == "router"


def test_sub_agent_events_carry_the_parent_call(dispatcher: Dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    events = run(collect(rt.query("restock", "t1"), answer=approve))
    calls = {e["callId"]: e for e in of(events, "tool-call") if e["tool"] == "call_agent"}
    for event in events:
        if event["agent"] in ("planner", "executor"):
            assert event["parentId"] in calls
            assert calls[event["parentId"]]["args"]["agent"] == event["agent"]
        elif event["agent"] == "router":
            assert "parentId" not in event
    starts = {e["agent"]: e for e in of(events, "agent-start")}
    assert starts["router"]["depth"] == 0 and starts["planner"]["depth"] == 1
    assert starts["planner"]["role"] == "planner"


def test_each_tool_call_appears_once_as_call_and_once_as_result(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    events = run(collect(rt.query("restock", "t1"), answer=approve))
    call_ids = [e["callId"] for e in of(events, "tool-call")]
    result_ids = [e["callId"] for e in of(events, "tool-result")]
    assert sorted(call_ids) == sorted(result_ids) and len(set(call_ids)) == len(call_ids) == 4


def test_sub_agent_final_text_is_the_call_agent_result(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    events = run(collect(rt.query("restock", "t1"), answer=approve))
    results = [e["result"] for e in of(events, "tool-result") if e["tool"] == "call_agent"]
    assert results == ["Stored r1.", "Executed."]


def test_routes_are_enforced() -> None:
    rt = build_runtime({"router": [{"tool": "call_agent", "args": {"agent": "router",
                                                                   "prompt": "loop"}},
                                   {"text": "gave up"}]})
    events = run(collect(rt.query("x", "t")))
    error = of(events, "tool-result")[0]["error"]
    assert "cannot call 'router'" in error and "analyst" in error
    assert events[-1]["status"] == "completed"


def test_a_raising_tool_becomes_a_readable_tool_error_and_the_run_goes_on() -> None:
    rt = build_runtime({"analyst": [{"tool": "explode", "args": {}}, {"text": "recovered"}]})
    events = run(collect(rt.run_specialist("analyst", "go")))
    result = of(events, "tool-result")[0]
    assert result["error"] == "ValueError: warehouse API is down" and "result" not in result
    assert events[-1]["status"] == "completed" and events[-1]["text"] == "recovered"


def test_invalid_tool_arguments_are_reported_to_the_model() -> None:
    rt = build_runtime({"analyst": [{"tool": "stock_level", "args": {"sku": 5, "x": 1}},
                                    {"text": "ok"}]})
    events = run(collect(rt.run_specialist("analyst", "go")))
    assert "invalid arguments for tool 'stock_level'" in of(events, "tool-result")[0]["error"]


def test_max_turns_ends_the_agent_with_an_error_not_a_hang() -> None:
    spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_specialist("looper", model="m", prompt="p", max_turns=2,
                             toolkits=["kv"])],
        providers={"scripted": {"scripts": {"looper": [
            {"tool": "kv_list", "args": {}}] * 5}}})
    rt = fa.create_runtime(spec, interpreter="scripted")
    events = run(collect(rt.run_specialist("looper", "go")))
    errors = of(events, "error")
    assert len(errors) == 1 and "maxTurns=2" in errors[0]["message"]
    assert len(of(events, "tool-call")) == 2
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "failed"


def test_max_turns_of_a_sub_agent_is_a_tool_error_for_the_coordinator() -> None:
    scripts = {"router": [{"tool": "call_agent", "args": {"agent": "analyst", "prompt": "x"}},
                          {"text": "analyst failed"}],
               "analyst": [{"tool": "kv_list", "args": {}}] * 20}
    rt = build_runtime(scripts)
    events = run(collect(rt.query("x", "t")))
    call_result = [e for e in of(events, "tool-result") if e["tool"] == "call_agent"][0]
    assert "maxTurns=16" in call_result["error"]
    assert events[-1]["status"] == "completed"


def test_interpreter_failure_ends_the_run_failed() -> None:
    rt = build_runtime({"router": [{"tool": "call_agent", "args": {"agent": "planner",
                                                                   "prompt": "x"}}],
                        "planner": []})
    events = run(collect(rt.query("x", "t")))
    error = of(events, "error")[0]
    assert "script for agent 'planner' ran out: turn 1" in error["message"]
    assert error["where"] == "interpreter:scripted" and error["agent"] == "planner"
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "failed"
    assert types(events)[-5:] == ["error", "agent-finish", "tool-result", "agent-finish",
                                  "run-finish"]
    assert_paired(events)
    spans = rt.get_trace(events[-1]["traceId"])["spans"]
    assert {s["name"]: s["status"] for s in spans if s["kind"] == "agent"} == {
        "router": "error", "planner": "error"}
    assert all(s["end"] is not None for s in spans)


def test_script_naming_a_tool_the_agent_lacks_is_an_error_naming_agent_and_turn() -> None:
    rt = build_runtime({"analyst": [{"text": "hi", "tool": "execute_plan", "args": {}}]})
    events = run(collect(rt.run_specialist("analyst", "x")))
    message = of(events, "error")[0]["message"]
    assert "agent 'analyst', turn 1" in message and "'execute_plan'" in message
    assert events[-1]["status"] == "failed"


def test_dispatcher_failure_fails_the_plan_and_the_run() -> None:
    bad = Dispatcher(raises=RuntimeError("ERP offline"))
    rt = build_runtime(dispatcher=bad)
    events = run(collect(rt.query("x", "t"), answer=approve))
    assert of(events, "error")[0]["where"] == "dispatcher"
    assert "ERP offline" in of(events, "error")[0]["message"]
    assert events[-1]["status"] == "failed"
    assert_paired(events)
    plan = rt.get_plan("r1")
    assert plan["status"] == "failed" and "ERP offline" in plan["history"][-1]["note"]["error"]


@pytest.mark.parametrize("result", [42, {"entitiesAffected": "two"}, {"count": 1}, [1]])
def test_dispatcher_result_shape_is_enforced(result) -> None:
    rt = build_runtime(dispatcher=Dispatcher(result=result))
    events = run(collect(rt.query("x", "t"), answer=approve))
    message = of(events, "error")[0]["message"]
    assert "entitiesAffected" in message and events[-1]["status"] == "failed"
    assert rt.get_plan("r1")["status"] == "failed"


def test_dispatcher_returning_none_is_fine() -> None:
    rt = build_runtime(dispatcher=Dispatcher(result=None))
    events = run(collect(rt.query("x", "t"), answer=approve))
    assert events[-1]["status"] == "completed"


def test_event_hooks_see_every_event_in_order(dispatcher) -> None:
    seen: list[dict] = []
    rt = build_runtime(dispatcher=dispatcher, event_hooks=[seen.append])
    events = run(collect(rt.query("x", "t"), answer=approve))
    assert seen == events


def test_async_hooks_are_called_in_order_too(dispatcher) -> None:
    seen: list[int] = []

    async def hook(event):
        seen.append(event["seq"])

    rt = build_runtime(dispatcher=dispatcher, event_hooks=hook)
    events = run(collect(rt.query("x", "t"), answer=approve))
    assert seen == [e["seq"] for e in events]


def test_a_raising_hook_becomes_an_error_event_not_a_crash(dispatcher) -> None:
    def hook(event):
        if event["type"] == "plan-stored":
            raise KeyError("oops")

    rt = build_runtime(dispatcher=dispatcher, event_hooks=[hook])
    events = run(collect(rt.query("x", "t"), answer=approve))
    errors = of(events, "error")
    assert len(errors) == 1 and errors[0]["where"] == "event_hook"
    assert "KeyError" in errors[0]["message"]
    assert events[-1]["status"] == "completed"


def test_unknown_specialist_lists_the_known_ones() -> None:
    rt = build_runtime()
    with pytest.raises(ValueError, match=r"'nobody'.*\['analyst'\]"):
        rt.run_specialist("nobody", "x")


def test_stateful_coordinator_keeps_history_per_thread() -> None:
    rt = build_runtime({"router": [{"text": "one"}, {"text": "two"}, {"text": "three"}]})
    seen = count_messages(rt)
    run(collect(rt.query("first", "t1")))
    run(collect(rt.query("second", "t1")))
    run(collect(rt.query("other thread", "t2")))
    assert seen == [1, 3, 1]


def test_streams_work_across_many_asyncio_runs_and_with_plain_for(dispatcher) -> None:
    rt = build_runtime({"router": [{"text": "a"}, {"text": "b"}]})
    assert run(collect(rt.query("x", "t")))[-1]["text"] == "a"
    events = list(rt.query("y", "t"))
    assert events[-1]["text"] == "b" and events[-1]["status"] == "completed"


def test_plain_for_with_a_gate_answered_in_the_loop(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    events = []
    for event in rt.query("x", "t"):
        events.append(event)
        if event["type"] == "approval-required":
            rt.respond_to_approval(event["approvalId"], "approve")
    assert events[-1]["status"] == "completed" and len(dispatcher.calls) == 1


def test_plain_for_with_an_unanswered_gate_raises_instead_of_hanging(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    stream = rt.query("x", "t")
    with pytest.raises(RuntimeError, match="waiting for approval"):
        for _event in stream:
            pass
    assert dispatcher.calls == []


def test_cancel_ends_the_run_cancelled() -> None:
    rt = build_runtime()

    async def main():
        stream = rt.query("x", "t")
        events = []
        async for event in stream:
            events.append(event)
            if event["type"] == "approval-required":
                stream.cancel()
        return events

    events = run(main())
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "cancelled"
    assert rt.pending_approvals() == []
    assert_paired(events)
    plan = rt.get_plan("r1")
    assert plan["status"] == "draft" and "withdrawn" in plan["history"][-1]["note"]


def test_prompt_script_drives_the_entry_agent() -> None:
    rt = build_runtime({})
    prompt = json.dumps({"script": [{"text": ["from ", "prompt"]}]})
    events = run(collect(rt.query(prompt, "t")))
    assert [e["delta"] for e in of(events, "text-delta")] == ["from ", "prompt"]
    assert events[-1]["text"] == "from prompt"


def test_noop_interpreter_ends_each_turn_with_empty_text() -> None:
    spec = fa.define_runtime(fa.define_tenant("a", "1"),
                             agents=[fa.define_coordinator("c", model="m", prompt="p")])
    events = run(collect(fa.create_runtime(spec).query("hi", "t")))
    assert types(events) == ["run-start", "agent-start", "agent-finish", "run-finish"]
    assert events[-1]["text"] == "" and events[-1]["status"] == "completed"


def test_testing_interpreter_emits_the_mock_text_in_deltas_and_usage() -> None:
    spec = fa.define_runtime(fa.define_tenant("a", "1"),
                             agents=[fa.define_coordinator("c", model="m", prompt="p")])
    rt = fa.create_runtime(spec, testing=fa.TestingConfig(mock_response="Stock is fine today"))
    events = run(collect(rt.query("hi", "t")))
    deltas = [e["delta"] for e in of(events, "text-delta")]
    assert len(deltas) == 4 and "".join(deltas) == "Stock is fine today"
    usage = of(events, "usage")[0]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    assert events[-1]["usage"]["outputTokens"] == usage["outputTokens"]


def test_parallel_tool_calls_in_one_turn() -> None:
    rt = build_runtime({"analyst": [
        {"tools": [{"tool": "stock_level", "args": {"sku": "A"}},
                   {"tool": "stock_level", "args": {"sku": "B"}}]},
        {"text": "both"}]})
    events = run(collect(rt.run_specialist("analyst", "x")))
    kinds = [(e["type"], e.get("args", {}).get("sku") or e.get("result", {}).get("sku"))
             for e in events if e["type"] in ("tool-call", "tool-result")]
    assert kinds == [("tool-call", "A"), ("tool-call", "B"), ("tool-result", "A"),
                     ("tool-result", "B")]


def test_flow_script_is_not_mutated() -> None:
    before = json.dumps(FLOW, sort_keys=True)
    rt = build_runtime(dispatcher=Dispatcher())
    run(collect(rt.query("x", "t"), answer=approve))
    assert json.dumps(FLOW, sort_keys=True) == before


def test_runtime_has_every_method_of_the_reference() -> None:
    rt = build_runtime()
    for name in ["query", "run_specialist", "run_eval", "stream_eval", "get_trace",
                 "list_traces", "create_reference", "resolve_reference", "reference_glimpse",
                 "respond_to_approval", "pending_approvals", "serve_mcp_stdio",
                 "serve_mcp_http"]:
        assert callable(getattr(rt, name)), name
        assert getattr(rt, name).__doc__, name
    assert repr(rt) == ("<Runtime tenant='acme@1' interpreter='scripted' agents=[coordinator:"
                        "router, planner:planner, executor:executor, specialist:analyst] "
                        "store=memory>")


def test_a_custom_interpreter_instance_plays_the_turns() -> None:
    from flowai_nb.interpreters import Interpreter, TextDelta

    class Echo(Interpreter):
        name = "echo"

        async def turn(self, request):
            yield TextDelta(f"{request.agent} heard: {request.messages[-1]['content'][0]['text']}")

    spec = fa.define_runtime(fa.define_tenant("a", "1"),
                             agents=[fa.define_coordinator("c", model="m", prompt="p")])
    rt = fa.create_runtime(spec, interpreter=Echo())
    assert run(collect(rt.query("hello", "t")))[-1]["text"] == "c heard: hello"
    with pytest.raises(ValueError, match="testing"):
        fa.create_runtime(spec, interpreter=Echo(), testing={"mock_response": "x"})


def test_max_turns_failure_pairs_every_call() -> None:
    spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_specialist("looper", model="m", prompt="p", max_turns=2, toolkits=["kv"])],
        providers={"scripted": {"scripts": {"looper": [
            {"tools": [{"tool": "kv_list", "args": {}}, {"tool": "kv_get", "args": {"key": "k"}}]}
        ] * 5}}})
    events = run(collect(fa.create_runtime(spec, interpreter="scripted").run_specialist(
        "looper", "go")))
    assert events[-1]["status"] == "failed"
    assert_paired(events)


def test_an_interpreter_reusing_tool_use_ids_fails_the_run() -> None:
    from flowai_nb.interpreters import Interpreter, ToolUse

    ran: list[dict] = []

    @fa.define_tool("wire", "Wire money", {"amount": int}, approval="always")
    def wire(args, ctx):
        ran.append(args)

    class Sloppy(Interpreter):
        name = "sloppy"

        async def turn(self, request):
            if request.turn <= 2:
                yield ToolUse(id="toolu_1", name="wire", input={"amount": 10 * request.turn})

    spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_specialist("bank", model="m", prompt="p", tools=[wire])])
    rt = fa.create_runtime(spec, interpreter=Sloppy())
    events = run(collect(rt.run_specialist("bank", "pay"), answer=approve))
    assert "reused tool-use id 'toolu_1'" in of(events, "error")[0]["message"]
    assert ran == [{"amount": 10}]  # the second call never ran, approved or not
    assert_paired(events)


def test_a_raising_hook_is_reported_after_every_hook_saw_the_event(dispatcher) -> None:
    seen: list[int] = []

    def bad(event):
        if event["seq"] == 1:
            raise RuntimeError("boom")

    def record(event):
        seen.append(event["seq"])

    def bad_at_the_end(event):
        if event["type"] == "run-finish":
            raise RuntimeError("late")

    rt = build_runtime(dispatcher=dispatcher, event_hooks=[bad, record, bad_at_the_end])
    events = run(collect(rt.query("x", "t"), answer=approve))
    assert seen == [e["seq"] for e in events]  # in order, including the error event
    assert events[-1]["type"] == "run-finish"  # nothing after the end
    trace = rt.get_trace(events[-1]["traceId"])
    assert any("late" in message for message in trace["hookErrors"])
