"""Shared pieces of the contract tests: a small runtime coded the way the reference reads."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel

import flowai_nb as fa


class Restock(BaseModel):
    kind: Literal["restock"] = "restock"
    sku: str
    units: int


class RestockPlan(BaseModel):
    actions: list[Restock]


PLAN = fa.define_plan("restock", RestockPlan)
BODY = {"actions": [{"kind": "restock", "sku": "A", "units": 4}]}


@fa.define_tool("stock_level", "Units in stock for a SKU", {"sku": str})
def stock_level(args, ctx):
    return {"sku": args["sku"], "units": 3}


def spec(scripts: dict[str, list] | None = None, **kw: Any) -> fa.RuntimeSpec:
    """A coordinator routing to a planner, an executor and a specialist."""
    return fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[
            fa.define_coordinator("router", model="m", prompt="Route.",
                                  routes=["planner", "executor", "analyst"]),
            fa.define_planner("planner", model="m", prompt="Plan.", plan=PLAN),
            fa.define_executor("executor", model="m", prompt="Execute.", plan=PLAN),
            fa.define_specialist("analyst", model="m", prompt="Analyse.", tools=[stock_level]),
        ],
        providers={"scripted": {"scripts": scripts or {}}},
        **kw,
    )


def runtime(scripts: dict[str, list] | None = None, **kw: Any) -> fa.Runtime:
    return fa.create_runtime(spec(scripts), interpreter="scripted", **kw)


def run(awaitable: Any) -> Any:
    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())


async def drain(stream: Any) -> list[dict]:
    return [event async for event in stream]


def eval_request() -> Any:
    """One case that passes when the answer contains "hello"."""
    from flowai_nb.evals import define_eval_request, define_test_case

    case = define_test_case("greets", "Say hello",
                            final_response=[fa.ResponseScorer.contains("hello")])
    return define_eval_request([case])
