"""Whole runs on the anthropic interpreter against the local Messages API server,
and their replay on the scripted interpreter without it."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import pytest
from pydantic import BaseModel

import flowai_nb as fa

pytestmark = pytest.mark.live_http

MODEL = "claude-sonnet-4-6"  # $3 in, $15 out, $0.30 cache read per MTok
USAGE = {"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 50}
TURN_COST = (100 * 3 + 10 * 15 + 50 * 0.3) / 1e6


class Restock(BaseModel):
    kind: Literal["restock"] = "restock"
    sku: str
    qty: int


class RestockPlan(BaseModel):
    actions: list[fa.TaggedUnion(Restock)]


def build_spec(providers: dict[str, Any]) -> fa.RuntimeSpec:
    plan = fa.define_plan("restock_plan", RestockPlan)

    @fa.define_tool("lookup", "Stock level of a SKU.", {"sku": str})
    def lookup(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"sku": args["sku"], "stock": {"A": 1, "B": 9}[args["sku"]]}

    agents = [
        fa.define_coordinator("coord", model=MODEL, prompt="Route restocking requests.",
                              routes=["planner", "executor"], prompt_cache_key="acme-coord"),
        fa.define_planner("planner", model=MODEL, prompt="Plan restocks.", plan=plan,
                          tools=[lookup]),
        fa.define_executor("executor", model=MODEL, prompt="Execute approved plans.",
                           plan=plan),
        fa.define_specialist("analyst", model=MODEL, prompt="Answer briefly."),
    ]
    return fa.define_runtime(fa.define_tenant("acme", "1"), agents=agents, providers=providers)


FLOW = [  # one scripted response per model turn, in the order the run asks for them
    {"text": "Asking the planner.", "tool": "call_agent",
     "args": {"agent": "planner", "prompt": "Plan a restock for low SKUs A and B"}},
    {"thinking": ["Look both ", "up at once."],
     "tools": [{"tool": "lookup", "args": {"sku": "A"}}, {"tool": "lookup", "args": {"sku": "B"}}]},
    {"tool": "store_plan", "args": {"plan": "restock_plan", "plan_id": "p1",
                                    "body": {"actions": [{"kind": "restock", "sku": "A",
                                                          "qty": 5}]}}},
    {"text": ["Stored ", "plan p1."]},
    {"tool": "call_agent", "args": {"agent": "executor", "prompt": "Execute plan p1"}},
    {"tool": "execute_plan", "args": {"plan_id": "p1"}},
    {"text": "Executed p1."},
    {"text": ["Restocked ", "5 of ", "A."]},
]


def run_flow(rt: Any) -> list[dict[str, Any]]:
    return asyncio.run(rt.query("Restock what is low", "t1", approvals="auto_approve").collect())


def summary(events: list[dict[str, Any]], dispatched: list[Any]) -> dict[str, Any]:
    """What a user would compare between a live run and its replay."""
    return {
        "calls": [(e["agent"], e["tool"], e["args"]) for e in events if e["type"] == "tool-call"],
        "results": [e.get("result", e.get("error")) for e in events
                    if e["type"] == "tool-result"],
        "plans": [(e["plan"], e["actions"]) for e in events if e["type"] == "plan-stored"],
        "dispatched": dispatched,
        "text": events[-1]["text"],
        "status": events[-1]["status"],
    }


def test_coordinator_planner_executor_flow_with_approval_then_replay(anthropic_server,
                                                                      anthropic_providers):
    anthropic_server.script(*({**turn, "usage": USAGE} for turn in FLOW))
    dispatched: list[Any] = []
    rt = fa.create_runtime(build_spec(anthropic_providers()), interpreter="anthropic",
                           action_dispatcher=lambda actions, ctx: dispatched.append(actions)
                           or {"entitiesAffected": len(actions)})
    events = run_flow(rt)
    live = summary(events, dispatched)

    assert live["status"] == "completed" and live["text"] == "Restocked 5 of A."
    assert [(a, t) for a, t, _ in live["calls"]] == [
        ("coord", "call_agent"), ("planner", "lookup"), ("planner", "lookup"),
        ("planner", "store_plan"), ("coord", "call_agent"), ("executor", "execute_plan")]
    assert live["results"][:2] == [{"sku": "A", "stock": 1}, {"sku": "B", "stock": 9}]
    assert [e["outcome"] for e in events if e["type"] == "approval-decision"] == ["approve"]
    assert dispatched == [[{"kind": "restock", "payload": {"sku": "A", "qty": 5},
                            "references": []}]]

    # usage: one usage event per model turn, summed on run-finish with its cost
    usage_events = [e for e in events if e["type"] == "usage"]
    assert len(usage_events) == len(FLOW)
    assert usage_events[0]["costUsd"] == pytest.approx(TURN_COST)
    total = events[-1]["usage"]
    assert (total["inputTokens"], total["outputTokens"]) == (100 * len(FLOW), 10 * len(FLOW))
    assert total["costUsd"] == pytest.approx(TURN_COST * len(FLOW))

    # what the SDK sent: both parallel calls and both results went back to the planner
    bodies = anthropic_server.bodies()
    assert len(bodies) == len(FLOW) and anthropic_server.remaining == 0
    planner_second = bodies[2]["messages"]
    # the planner's thinking went back in front of the tool calls it led to
    assert [b["type"] for b in planner_second[-2]["content"]] == ["thinking", "tool_use",
                                                                  "tool_use"]
    assert planner_second[-2]["content"][0]["thinking"] == "Look both up at once."
    results = planner_second[-1]["content"]
    assert [r["tool_use_id"] for r in results] == [b["id"] for b in planner_second[-2]["content"]
                                                   if b["type"] == "tool_use"]
    assert "call_agent" in {t["name"] for t in bodies[0]["tools"]}
    assert {"lookup", "store_plan"} <= {t["name"] for t in bodies[1]["tools"]}
    # the coordinator has a promptCacheKey, the planner has not
    assert bodies[0]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert bodies[0]["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in bodies[1]["system"][0]
    # the coordinator's second turn sees the planner's answer as the call_agent result
    coord_second = bodies[4]["messages"][-1]["content"][0]
    assert coord_second["type"] == "tool_result" and "Stored plan p1." in coord_second["content"]

    # record, then replay without the server
    trace = rt.get_trace(events[-1]["traceId"])
    anthropic_server.stop()
    replayed: list[Any] = []
    replay_rt = fa.create_runtime(build_spec({"scripted": {"replay": trace}}),
                                  interpreter="scripted",
                                  action_dispatcher=lambda actions, ctx: replayed.append(actions)
                                  or {"entitiesAffected": len(actions)})
    replay_events = run_flow(replay_rt)
    assert summary(replay_events, replayed) == live
    for kind in ("text-delta", "reasoning-delta"):
        assert [(e["agent"], e["delta"]) for e in replay_events if e["type"] == kind] == \
            [(e["agent"], e["delta"]) for e in events if e["type"] == kind]
    assert any(e["type"] == "reasoning-delta" for e in events)
    assert replay_events[-1]["usage"]["costUsd"] == pytest.approx(total["costUsd"])


def run_analyst(rt: Any) -> list[dict[str, Any]]:
    return asyncio.run(rt.run_specialist("analyst", "How many SKUs?").collect())


def test_rate_limit_and_overload_are_retried_inside_a_run(anthropic_server, anthropic_providers):
    fast = {"retry-after-ms": "10"}
    anthropic_server.script(
        {"status": 429, "headers": fast, "error": {"type": "rate_limit_error", "message": "slow"}},
        {"status": 529, "headers": fast, "error": {"type": "overloaded_error",
                                                   "message": "Overloaded"}},
        {"text": "Two SKUs."},
    )
    rt = fa.create_runtime(build_spec(anthropic_providers(maxRetries=2)), interpreter="anthropic")
    events = run_analyst(rt)
    assert events[-1]["status"] == "completed" and events[-1]["text"] == "Two SKUs."
    assert not [e for e in events if e["type"] == "error"]
    assert len(anthropic_server.requests) == 3


@pytest.mark.parametrize("responses, expected", [
    ([{"status": 400, "error": {"type": "invalid_request_error",
                                "message": "tools.0.name: bad name"}}],
     "tools.0.name: bad name"),
    ([{"status": 503, "headers": {"retry-after-ms": "10"},
       "error": {"type": "api_error", "message": "upstream down"}}] * 2,
     "upstream down"),
    ([{"text": ["cut ", "off"], "drop_after": 4}], "stream ended before message_stop"),
])
def test_provider_failures_end_the_run_failed_with_the_message(anthropic_server,
                                                               anthropic_providers,
                                                               responses, expected):
    anthropic_server.script(*responses)
    rt = fa.create_runtime(build_spec(anthropic_providers(maxRetries=1)), interpreter="anthropic")
    events = run_analyst(rt)
    errors = [e for e in events if e["type"] == "error"]
    assert len(errors) == 1 and expected in errors[0]["message"]
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "failed"


def test_missing_key_fails_in_create_runtime(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        fa.create_runtime(build_spec({}), interpreter="anthropic")


def test_cancelling_a_run_closes_the_model_stream(anthropic_server, anthropic_providers):
    anthropic_server.script({"text": [f"w{i} " for i in range(200)], "delay": 0.05})
    rt = fa.create_runtime(build_spec(anthropic_providers()), interpreter="anthropic")

    async def go() -> list[dict[str, Any]]:
        stream = rt.run_specialist("analyst", "Talk for a long time.")
        seen = []
        async for event in stream:
            seen.append(event)
            if event["type"] == "text-delta":
                stream.cancel()
        return seen

    events = asyncio.run(go())
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "cancelled"
    assert anthropic_server.client_closed.wait(10), "server never saw the connection close"


def test_eval_judge_scorer_asks_the_live_model(anthropic_server, anthropic_providers):
    from flowai_nb.evals import (
        ResponseScorer,
        define_eval_config,
        define_eval_request,
        define_test_case,
        run_eval_sync,
    )

    anthropic_server.script({"text": "Two SKUs: A and B."}, {"text": "Yes, it names them."})
    rt = fa.create_runtime(build_spec(anthropic_providers()), interpreter="anthropic")
    case = define_test_case("count", "How many SKUs?", final_response=[
        ResponseScorer.judge("Does the answer name the SKUs?")])
    cfg = define_eval_config(mode="specialist", target_agent_id="analyst", samples_per_case=1)
    artifact = run_eval_sync(rt, define_eval_request([case], cfg))

    [component] = artifact.test_cases[0].samples[0].components
    assert component.score == 1.0 and artifact.passed
    judge = anthropic_server.bodies()[1]
    question = judge["messages"][0]["content"][0]["text"]
    assert "Does the answer name the SKUs?" in question and "Two SKUs: A and B." in question
    assert judge["model"] == MODEL and "tools" not in judge
