"""A small scripted retail runtime for eval integration tests."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel

import flowai_nb as fa


class Restock(BaseModel):
    kind: Literal["restock"] = "restock"
    sku: str
    qty: int


class Retire(BaseModel):
    kind: Literal["retire"] = "retire"
    sku: str


class RestockPlan(BaseModel):
    actions: list[fa.TaggedUnion(Restock, Retire)]


PLAN_BODY = {"actions": [{"kind": "restock", "sku": "A1", "qty": 5},
                         {"kind": "retire", "sku": "Z9"}]}

SCRIPTS = {
    "boss": [{"tool": "call_agent", "args": {"agent": "planner", "prompt": "plan it"}},
             {"tool": "call_agent", "args": {"agent": "executor", "prompt": "run p1"}},
             {"text": ["Restocked ", "5 units of A1."]}],
    "planner": [{"tool": "store_plan", "args": {"plan": "restock_plan", "plan_id": "p1",
                                                "body": PLAN_BODY}},
                {"text": "stored p1"}],
    "executor": [{"tool": "execute_plan", "args": {"plan_id": "p1"}}, {"text": "done"}],
    "stock": [{"tool": "stock_level", "args": {"sku": "A1"}}, {"text": "A1: 12 on hand"}],
    "judge": [{"text": "Yes, it does."}],
    "sleeper": [{"tool": "nap", "args": {}}, {"text": "woke up"}],
}


@fa.define_tool("stock_level", "Units on hand for a SKU", {"sku": str})
def stock_level(args, ctx):
    return {"sku": args["sku"], "onHand": 12}


NAP_LISTENERS: list = []
"""Callables told each time a ``nap`` starts (tests synchronise on them, not on sleeps)."""


@fa.define_tool("nap", "Waits a minute", {})
async def nap(args, ctx):
    for listener in NAP_LISTENERS:
        listener()
    await asyncio.sleep(60)
    return "rested"


def make_runtime(dispatched: list | None = None, *, tenant: str = "acme", **kwargs):
    agents = [
        fa.define_coordinator("boss", model="m", prompt="Route.",
                              routes=["planner", "executor", "stock", "sleeper"]),
        fa.define_planner("planner", model="m", prompt="Plan.",
                          plan=fa.define_plan("restock_plan", RestockPlan)),
        fa.define_executor("executor", model="m", prompt="Execute."),
        fa.define_specialist("stock", model="m", prompt="Stock.", tools=[stock_level]),
        fa.define_specialist("sleeper", model="m", prompt="Sleep.", tools=[nap]),
    ]
    spec = fa.define_runtime(fa.define_tenant(tenant, "1"), agents=agents,
                             providers={"scripted": {"scripts": SCRIPTS}})
    sink = dispatched if dispatched is not None else []

    def dispatcher(actions, ctx):
        sink.append(actions)
        return {"entitiesAffected": len(actions)}

    return fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatcher,
                             **kwargs)
