"""A scripted refund scenario on the real engine (also pasted into browser-test notebooks).

coordinator -> planner (store_plan) -> executor (execute_plan: plan approval gate)
-> action dispatcher. With ``revise=True`` the planner has a second turn pair for
the revision and the executor submits the revised plan.
"""

from typing import Literal

from pydantic import BaseModel

import flowai_nb as fa


class Refund(BaseModel):
    kind: Literal["refund"] = "refund"
    order_id: int
    amount: float


class RefundPlan(BaseModel):
    reason: str
    actions: list[fa.TaggedUnion(Refund)]


def _plan_body(amount):
    return {"reason": "late delivery",
            "actions": [{"kind": "refund", "order_id": 42, "amount": amount}]}


def build_runtime(dispatched, *, revise=False):
    """A scripted runtime; ``dispatched`` (a list) receives every dispatched action list."""
    plan = fa.define_plan("refund_plan", RefundPlan)
    store = {"tool": "store_plan",
             "args": {"plan": "refund_plan", "plan_id": "refund-42", "body": _plan_body(19.5)}}
    execute = {"tool": "execute_plan", "args": {"plan_id": "refund-42"}}
    planner = [store, {"text": "Stored plan refund-42."}]
    executor = [execute]
    if revise:
        revised = {"tool": "store_plan",
                   "args": {"plan": "refund_plan", "plan_id": "refund-42", "body": _plan_body(10)}}
        planner += [revised, {"text": "Revised plan refund-42."}]
        executor += [execute]
    executor += [{"text": "Executed."}]
    scripts = {
        "coordinator": [
            {"tool": "call_agent", "args": {"agent": "planner", "prompt": "refund order 42"}},
            {"tool": "call_agent", "args": {"agent": "executor", "prompt": "run refund-42"}},
            {"text": ["Refund ", "done."], "usage": {"inputTokens": 12, "outputTokens": 3}},
        ],
        "planner": planner,
        "executor": executor,
        "support": [{"text": ["Order 42 ", "shipped late."]}],
    }
    agents = [
        fa.define_coordinator("coordinator", model="scripted", prompt="Route.",
                              routes=["planner", "executor"]),
        fa.define_planner("planner", model="scripted", prompt="Plan refunds.", plan=plan),
        fa.define_executor("executor", model="scripted", prompt="Execute plans.", plan=plan),
        fa.define_specialist("support", model="scripted", prompt="Answer order questions."),
    ]
    spec = fa.define_runtime(fa.define_tenant("acme", "1"), agents=agents,
                             providers={"scripted": {"scripts": scripts}})

    def dispatcher(actions, ctx):
        dispatched.append(actions)
        return {"entitiesAffected": len(actions)}

    return fa.create_runtime(spec, action_dispatcher=dispatcher, interpreter="scripted")
