from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

import flowai_nb as fa


class Restock(BaseModel):
    kind: Literal["restock"] = "restock"
    sku: str
    units: int


class Retire(BaseModel):
    kind: Literal["retire"] = "retire"
    sku: str


class RestockPlan(BaseModel):
    rationale: str = ""
    actions: list[fa.TaggedUnion(Restock, Retire)]


@pytest.fixture
def restock_plan() -> fa.PlanSpec:
    return fa.define_plan("restock", RestockPlan)


@pytest.fixture
def quote_tool() -> fa.ToolSpec:
    @fa.define_tool("quote", "Price a restock", {"sku": str, "units": int})
    def quote(args, ctx):
        return {"cost": args["units"] * 2}

    return quote


@pytest.fixture
def full_spec(restock_plan: fa.PlanSpec, quote_tool: fa.ToolSpec) -> fa.RuntimeSpec:
    return fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[
            fa.define_coordinator("router", model="m", prompt="Route.",
                                  routes=["planner", "executor", "analyst"]),
            fa.define_planner("planner", model="m", prompt="Plan.", plan=restock_plan,
                              tools=[quote_tool]),
            fa.define_executor("executor", model="m", prompt="Execute.", plan="restock"),
            fa.define_specialist("analyst", model=fa.ModelSpec(id="m2", provider="scripted"),
                                 prompt="Analyse.", toolkits=["sql", "catalog"],
                                 tool_approvals={"run_sql": "always"}),
        ],
        references=[fa.define_reference("slice", {"rows": list}, ttl_ms=60_000)],
    )
