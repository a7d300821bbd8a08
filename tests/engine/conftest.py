from __future__ import annotations

import asyncio
from typing import Any, Literal

import pytest
from pydantic import BaseModel

import flowai_nb as fa
from tests.servers import fresh_postgres_url, postgres_url  # noqa: F401


class Restock(BaseModel):
    kind: Literal["restock"] = "restock"
    sku: str
    units: int
    references: list[dict] = []


class Retire(BaseModel):
    kind: Literal["retire"] = "retire"
    sku: str


class RestockPlan(BaseModel):
    actions: list[fa.TaggedUnion(Restock, Retire)]


PLAN = fa.define_plan("restock", RestockPlan)
BODY = {"actions": [{"kind": "restock", "sku": "A", "units": 10}, {"kind": "retire", "sku": "Z"}]}

FLOW = {
    "router": [
        {"tool": "call_agent", "args": {"agent": "planner", "prompt": "plan a restock"}},
        {"tool": "call_agent", "args": {"agent": "executor", "prompt": "run plan r1"}},
        {"text": ["All ", "done."]},
    ],
    "planner": [
        {"tool": "store_plan", "args": {"plan_id": "r1", "body": BODY}},
        {"text": "Stored r1."},
    ],
    "executor": [
        {"tool": "execute_plan", "args": {"plan_id": "r1"}},
        {"text": "Executed."},
    ],
}


class Dispatcher:
    """Records every call; returns a valid result unless told otherwise."""

    def __init__(self, result: Any = "default", raises: Exception | None = None) -> None:
        self.calls: list[tuple[list[dict], Any]] = []
        self.result = result
        self.raises = raises

    def __call__(self, actions, ctx):
        self.calls.append((actions, ctx))
        if self.raises:
            raise self.raises
        if self.result == "default":
            return {"entitiesAffected": len(actions), "summary": f"{len(actions)} actions"}
        return self.result


@fa.define_tool("stock_level", "Units in stock for a SKU", {"sku": str})
def stock_level(args, ctx):
    return {"sku": args["sku"], "units": 3}


@fa.define_tool("explode", "Always fails", {})
def explode(args, ctx):
    raise ValueError("warehouse API is down")


def build_spec(scripts: dict[str, list] | None = None, *, tenant: str = "acme",
               storage: dict | None = None, specialist_tools=(stock_level, explode),
               **runtime_kw: Any) -> fa.RuntimeSpec:
    return fa.define_runtime(
        fa.define_tenant(tenant, "1"),
        agents=[
            fa.define_coordinator("router", model="m", prompt="Route.",
                                  routes=["planner", "executor", "analyst"]),
            fa.define_planner("planner", model="m", prompt="Plan.", plan=PLAN,
                              tools=[stock_level]),
            fa.define_executor("executor", model="m", prompt="Execute.", plan=PLAN),
            fa.define_specialist("analyst", model="m", prompt="Analyse.",
                                 tools=list(specialist_tools), toolkits=["references", "kv"]),
        ],
        providers={"scripted": {"scripts": scripts if scripts is not None else FLOW}},
        storage_factories=storage,
        **runtime_kw,
    )


def build_runtime(scripts: dict[str, list] | None = None, *, dispatcher: Any = None,
                  spec_kw: dict | None = None, **kw: Any) -> fa.Runtime:
    spec = build_spec(scripts, **(spec_kw or {}))
    return fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatcher, **kw)


def run(coro):
    return asyncio.run(coro)


async def collect(stream, answer: Any = None) -> list[dict]:
    """Consume a stream; answer each approval with ``answer(event)`` if given."""
    events = []
    async for event in stream:
        events.append(event)
        if event["type"] == "approval-required" and answer is not None:
            decision = answer(event)
            if decision is not None:
                await stream.runtime.respond_to_approval(event["approvalId"], *decision)
    return events


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def of(events: list[dict], etype: str) -> list[dict]:
    return [e for e in events if e["type"] == etype]


@pytest.fixture
def dispatcher() -> Dispatcher:
    return Dispatcher()
