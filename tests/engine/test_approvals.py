"""SPEC §6: gates on both channels, policy resolution, decisions, errors, timeouts, and the
central promise: no action reaches the dispatcher without a required approval."""

from __future__ import annotations

import asyncio

import pytest

import flowai_nb as fa

from .conftest import Dispatcher, build_runtime, build_spec, collect, of, run, stock_level

PLAN_ONLY = {"planner": [{"tool": "store_plan", "args": {"plan_id": "p", "body": {
    "actions": [{"kind": "restock", "sku": "A", "units": 1}]}}}, {"text": "stored"}],
    "executor": [{"tool": "execute_plan", "args": {"plan_id": "p"}}, {"text": "done"}],
    "router": [{"tool": "call_agent", "args": {"agent": "planner", "prompt": "plan"}},
               {"tool": "call_agent", "args": {"agent": "executor", "prompt": "exec"}},
               {"text": "end"}]}


def test_approval_required_event_carries_what_a_reviewer_needs(dispatcher) -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=dispatcher)
    events = run(collect(rt.query("x", "t"), answer=lambda e: ("approve",)))
    gate = of(events, "approval-required")[0]
    assert gate["kind"] == "plan" and gate["target"] == "p@v1"
    assert gate["payload"]["actions"] == [{"kind": "restock", "payload": {"sku": "A", "units": 1},
                                           "references": []}]
    assert gate["resumeToken"].startswith("resume-")
    decision = of(events, "approval-decision")[0]
    assert decision == {**decision, "approvalId": gate["approvalId"], "outcome": "approve",
                        "feedback": None, "partial": None}


def test_reject_tells_the_model_not_to_retry_and_nothing_is_dispatched(dispatcher) -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=dispatcher)
    events = run(collect(rt.query("x", "t"), answer=lambda e: ("reject", "too many units")))
    result = [e for e in of(events, "tool-result") if e["tool"] == "execute_plan"][0]
    assert "rejected by the reviewer: too many units" in result["error"]
    assert "Do not execute or retry it" in result["error"]
    assert dispatcher.calls == [] and rt.get_plan("p")["status"] == "rejected"


def test_revise_sends_feedback_and_partial_to_the_planner(dispatcher) -> None:
    scripts = {
        "router": [{"tool": "call_agent", "args": {"agent": "executor", "prompt": "exec"}},
                   {"text": "end"}],
        "planner": [{"tool": "store_plan", "args": {"plan_id": "p", "body": {
            "actions": [{"kind": "restock", "sku": "A", "units": 5}]}}}, {"text": "revised"}],
        "executor": [{"tool": "execute_plan", "args": {"plan_id": "p"}},
                     {"tool": "execute_plan", "args": {"plan_id": "p"}}, {"text": "done"}],
    }
    rt = build_runtime(scripts, dispatcher=dispatcher)
    seen_prompts: list[str] = []
    original = rt.interpreter.turn

    async def spy(request):
        if request.agent == "planner" and request.turn == 1:
            seen_prompts.append(request.messages[-1]["content"][0]["text"])
        async for item in original(request):
            yield item

    rt.interpreter.turn = spy
    # a first draft, stored outside the run, authored by the planner
    body = {"actions": [{"kind": "restock", "sku": "A", "units": 50}]}
    _, actions = rt.spec.plan("restock").validate_body(body)
    rt._run_services.plans.store(spec_name="restock", body=body, actions=actions, base_id="p",
                    author="planner", run_id="r0", thread_id="t")
    answers = iter([("revise", "only 5 units", {"max_units": 5}), ("approve",)])
    events = run(collect(rt.query("x", "t"), answer=lambda e: next(answers)))
    assert len(seen_prompts) == 1
    assert "Feedback: only 5 units" in seen_prompts[0]
    assert '{"max_units":5}' in seen_prompts[0]
    first = [e for e in of(events, "tool-result") if e["tool"] == "execute_plan"][0]["result"]
    assert first["status"] == "revision_requested" and first["revisedPlanId"] == "p@v2"
    v1 = rt.get_plan("p@v1")
    assert v1["status"] == "draft"
    assert [h["status"] for h in v1["history"]] == ["draft", "pending_approval", "draft"]
    assert v1["history"][-1]["note"] == {"feedback": "only 5 units", "partial": {"max_units": 5}}
    assert dispatcher.calls[0][0][0]["payload"] == {"sku": "A", "units": 5}
    assert rt.get_plan("p")["id"] == "p@v2" and rt.get_plan("p")["status"] == "executed"


def test_partial_approval_dispatches_only_the_chosen_actions(dispatcher) -> None:
    rt = build_runtime(dispatcher=dispatcher)
    events = run(collect(rt.query("x", "t"),
                         answer=lambda e: ("approve", None, {"actions": [1]})))
    assert [a["kind"] for a in dispatcher.calls[0][0]] == ["retire"]
    assert [e["index"] for e in of(events, "action-status")] == [1, 1]


def test_tool_channel_gate_in_front_of_a_tool(dispatcher) -> None:
    scripts = {"analyst": [{"tool": "stock_level", "args": {"sku": "A"}}, {"text": "x"}]}
    rt = build_runtime(scripts, spec_kw={"approval_policies": {"plans": "always",
                                                               "tools": "always"}})
    ran: list[str] = []
    events = run(collect(rt.run_specialist("analyst", "x"),
                         answer=lambda e: ran.append(e["target"]) or ("reject", "no")))
    gate = of(events, "approval-required")[0]
    assert gate["kind"] == "tool" and gate["payload"] == {"tool": "stock_level",
                                                          "args": {"sku": "A"}}
    error = of(events, "tool-result")[0]["error"]
    assert "rejected by the reviewer: no" in error and "Do not retry" in error
    assert ran == ["stock_level"]


def test_built_in_tools_are_gated_too() -> None:
    rt = build_runtime({"router": [{"tool": "call_agent", "args": {"agent": "analyst",
                                                                   "prompt": "x"}},
                                   {"text": "end"}]},
                       spec_kw={"approval_overrides": {"tools": {"router":
                                                                 {"call_agent": "always"}}}})
    events = run(collect(rt.query("x", "t"), answer=lambda e: ("reject",)))
    assert of(events, "approval-required")[0]["target"] == "call_agent"
    assert of(events, "agent-start")[-1]["agent"] == "router"  # analyst never started


def test_dynamic_predicate_gets_args_and_info_and_decides() -> None:
    calls = []

    def big_order(args, info):
        calls.append((args, info))
        return args["sku"] == "BIG"

    scripts = {"analyst": [{"tool": "stock_level", "args": {"sku": "small"}},
                           {"tool": "stock_level", "args": {"sku": "BIG"}}, {"text": "x"}]}
    spec = build_spec(scripts, approval_policies={"plans": "always", "tools": {
        "kind": "dynamic", "value": "big_order"}})
    rt = fa.create_runtime(spec, interpreter="scripted",
                           approval_predicates={"big_order": big_order})
    events = run(collect(rt.run_specialist("analyst", "x"), answer=lambda e: ("approve",)))
    assert [e["target"] for e in of(events, "approval-required")] == ["stock_level"]
    assert of(events, "approval-required")[0]["payload"]["args"] == {"sku": "BIG"}
    args, info = calls[0]
    assert args == {"sku": "small"}
    assert info == {"kind": "tool", "target": "stock_level", "agent": "analyst",
                    "tenant": rt.tenant.to_wire()}


def test_a_raising_predicate_fails_closed() -> None:
    def broken(args, info):
        raise RuntimeError("predicate bug")

    spec = build_spec({"analyst": [{"tool": "stock_level", "args": {"sku": "A"}},
                                   {"text": "x"}]},
                      approval_policies={"plans": "always",
                                         "tools": {"kind": "dynamic", "value": "p"}})
    rt = fa.create_runtime(spec, interpreter="scripted", approval_predicates={"p": broken})
    events = run(collect(rt.run_specialist("analyst", "x"), answer=lambda e: ("reject",)))
    assert len(of(events, "approval-required")) == 1


def test_respond_to_approval_errors() -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=Dispatcher())

    async def main():
        stream = rt.query("x", "t")
        async for event in stream:
            if event["type"] == "approval-required":
                aid = event["approvalId"]
                with pytest.raises(ValueError, match="'maybe'"):
                    await rt.respond_to_approval(aid, "maybe")
                with pytest.raises(RuntimeError, match="unknown approval id 'nope'"):
                    await rt.respond_to_approval("nope", "approve")
                await rt.respond_to_approval(aid, "approve")
                with pytest.raises(RuntimeError, match="already resolved"):
                    await rt.respond_to_approval(aid, "reject")
        return stream

    assert run(main()).status == "completed"


def test_two_concurrent_responses_resolve_once(dispatcher) -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=dispatcher)

    async def main():
        stream = rt.query("x", "t")
        outcomes = []
        async for event in stream:
            if event["type"] == "approval-required":
                async def answer(outcome, aid=event["approvalId"]):
                    await asyncio.sleep(0)
                    return await rt.respond_to_approval(aid, outcome)
                outcomes = await asyncio.gather(answer("approve"), answer("reject"),
                                                return_exceptions=True)
        return outcomes

    outcomes = run(main())
    assert outcomes[0]["outcome"] == "approve"
    assert isinstance(outcomes[1], RuntimeError)
    assert len(dispatcher.calls) == 1


def test_pending_approvals_lists_open_gates(dispatcher) -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=dispatcher)

    async def main():
        stream = rt.query("x", "t")
        async for event in stream:
            if event["type"] == "approval-required":
                pending = rt.pending_approvals()
                assert [p["approvalId"] for p in pending] == [event["approvalId"]]
                assert pending[0]["kind"] == "plan" and pending[0]["threadId"] == "t"
                await rt.respond_to_approval(event["approvalId"], "approve")
        return rt.pending_approvals()

    assert run(main()) == []


def test_headless_policies(dispatcher) -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=dispatcher)
    assert run(collect(rt.query("x", "t1", approvals="auto_approve")))[-1]["status"] == "completed"
    assert len(dispatcher.calls) == 1
    events = run(collect(rt.query("x", "t2", approvals="auto_reject")))
    assert of(events, "approval-decision")[0]["outcome"] == "reject"
    assert len(dispatcher.calls) == 1
    events = run(collect(rt.query("x", "t3", approvals=[{"outcome": "reject",
                                                         "feedback": "scripted"}])))
    assert of(events, "approval-decision")[0]["feedback"] == "scripted"
    events = run(collect(rt.query("x", "t4", approvals=lambda req: "approve")))
    assert len(dispatcher.calls) == 2


def test_headless_policy_from_the_environment(monkeypatch, dispatcher) -> None:
    monkeypatch.setenv("FLOWAI_NB_APPROVAL", "auto_approve")
    rt = build_runtime(PLAN_ONLY, dispatcher=dispatcher)
    assert run(collect(rt.query("x", "t")))[-1]["status"] == "completed"
    assert len(dispatcher.calls) == 1


def test_bad_headless_policy_is_rejected() -> None:
    rt = build_runtime(PLAN_ONLY)
    with pytest.raises(ValueError, match="'sometimes'"):
        rt.query("x", "t", approvals="sometimes")
    with pytest.raises(ValueError, match=r"approvals\[0\]"):
        rt.query("x", "t", approvals=["yes"])


# -- the central safety promise -------------------------------------------------------------

def test_never_dispatched_without_approval_from_query(dispatcher) -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=dispatcher)

    async def main():
        async for event in rt.query("x", "t"):
            if event["type"] == "approval-required":
                await asyncio.sleep(0.05)
                assert dispatcher.calls == []
                await rt.respond_to_approval(event["approvalId"], "reject")

    run(main())
    assert dispatcher.calls == []


def test_never_dispatched_without_approval_from_run_specialist(dispatcher) -> None:
    spec = fa.define_runtime(
        fa.define_tenant("a", "1"),
        agents=[fa.define_planner("planner", model="m", prompt="p", plan=build_spec().plan(
            "restock")), fa.define_specialist("ops", model="m", prompt="p", tools=[stock_level])],
        providers={"scripted": {"scripts": {}}})
    # a specialist whose tool is gated: the handler must not run when rejected
    ran = []

    @fa.define_tool("apply", "Apply a change", {"sku": str}, approval="always")
    def apply(args, ctx):
        ran.append(args)

    spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_specialist("ops", model="m", prompt="p", tools=[apply])],
        providers={"scripted": {"scripts": {"ops": [{"tool": "apply", "args": {"sku": "A"}},
                                                    {"text": "x"}]}}})
    rt = fa.create_runtime(spec, interpreter="scripted")
    run(collect(rt.run_specialist("ops", "x"), answer=lambda e: ("reject",)))
    assert ran == []
    rt2 = fa.create_runtime(spec, interpreter="scripted")
    run(collect(rt2.run_specialist("ops", "x"), answer=lambda e: ("approve",)))
    assert ran == [{"sku": "A"}]


def test_never_dispatched_when_the_approval_times_out(dispatcher) -> None:
    rt = build_runtime(PLAN_ONLY, dispatcher=dispatcher)
    rt.approval_timeout = 0.05
    events = run(collect(rt.query("x", "t")))
    decision = of(events, "approval-decision")[0]
    assert decision["outcome"] == "reject" and decision["feedback"] == "timed out"
    assert dispatcher.calls == [] and rt.get_plan("p")["status"] == "rejected"
    assert events[-1]["status"] == "completed"
