"""Approval round trips: pause at a gate, persist, answer, resume, finish, on SQLite.

flowai_nb: an executor run calls ``execute_plan`` on a stored draft plan; the
plans gate pauses the run (its state persisted in the sqlite ``kv`` store),
the consumer answers the ``approval-required`` event with
``runtime.respond_to_approval(..., "approve")``, and the run dispatches the
plan and finishes. LangGraph: a graph whose gate node calls ``interrupt()``,
checkpointed by ``SqliteSaver``, resumed with ``Command(resume="approve")``.
Plans are stored before each timed batch. SPEC §17 bar: at least 500 round
trips/s. Usage::

    python bench/bench_approvals.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any, Literal

from _harness import PEER_HINT, Contender, Row, interleave, print_table, size
from pydantic import BaseModel

import flowai_nb as fa

BAR = 500.0
BODY = {"actions": [{"kind": "restock", "sku": "A", "units": 10}]}


class Restock(BaseModel):
    """Order more units of one product."""

    kind: Literal["restock"] = "restock"
    sku: str
    units: int


class RestockPlan(BaseModel):
    """A list of restock orders."""

    actions: list[fa.TaggedUnion(Restock)]


def _script(*turns: dict[str, Any]) -> str:
    return json.dumps({"script": list(turns)})


def flowai_contender(workdir: Path) -> tuple[Contender, Any]:
    """flowai_nb: a plan gate answered with ``respond_to_approval``, sqlite kv store."""
    plan = fa.define_plan("restock", RestockPlan)
    spec = fa.define_runtime(
        fa.define_tenant("bench", "1"),
        agents=[fa.define_planner("planner", model="scripted", prompt="Plan.", plan=plan),
                fa.define_executor("executor", model="scripted", prompt="Execute.", plan=plan)],
        storage_factories={"kv": {"kind": "sqlite",
                                  "config": {"path": str(workdir / "flowai.db")}}},
    )
    dispatched: list[int] = []

    def dispatch(actions: list[dict[str, Any]], ctx: Any) -> dict[str, Any]:
        dispatched.append(len(actions))
        return {"entitiesAffected": len(actions)}

    rt = fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatch)
    ids = itertools.count()
    ready: list[str] = []

    async def prepare(n: int) -> None:
        for _ in range(n):
            plan_id = f"p{next(ids)}"
            stream = rt.run_agent("planner", _script(
                {"tool": "store_plan", "args": {"plan_id": plan_id, "body": BODY}},
                {"text": "Stored."}), thread_id=f"plan-{plan_id}")
            await stream.collect()
            if stream.status != "completed":
                raise RuntimeError(f"storing plan {plan_id} failed: {stream.status}")
            ready.append(plan_id)

    async def run(n: int) -> None:
        before = len(dispatched)
        for _ in range(n):
            plan_id = ready.pop()
            stream = rt.run_agent("executor", _script(
                {"tool": "execute_plan", "args": {"plan_id": plan_id}},
                {"text": "Executed."}), thread_id=f"exec-{plan_id}")
            async for event in stream:
                if event["type"] == "approval-required":
                    await rt.respond_to_approval(event["approvalId"], "approve")
            if stream.status != "completed":
                raise RuntimeError(f"executing plan {plan_id} ended {stream.status}")
        if len(dispatched) - before != n:
            raise RuntimeError(f"{n} round trips dispatched {len(dispatched) - before} plans")

    return Contender("flowai_nb", run, prepare), rt


def langgraph_contender(workdir: Path) -> tuple[Contender, Any]:
    """LangGraph: ``interrupt()`` in a gate node, ``SqliteSaver``, ``Command(resume=...)``."""
    import sqlite3
    from typing import TypedDict

    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import Command, interrupt

    class State(TypedDict, total=False):
        plan_id: str
        outcome: str
        dispatched: int

    def gate(state: State) -> dict[str, Any]:
        return {"outcome": interrupt({"planId": state["plan_id"], "plan": "restock",
                                      "actions": BODY["actions"]})}

    def dispatch(state: State) -> dict[str, Any]:
        return {"dispatched": len(BODY["actions"]) if state["outcome"] == "approve" else 0}

    builder = StateGraph(State)
    builder.add_node("gate", gate)
    builder.add_node("dispatch", dispatch)
    builder.add_edge(START, "gate")
    builder.add_edge("gate", "dispatch")
    conn = sqlite3.connect(workdir / "langgraph.db", check_same_thread=False)
    graph = builder.compile(checkpointer=SqliteSaver(conn))
    ids = itertools.count()

    async def run(n: int) -> None:
        for _ in range(n):
            config = {"configurable": {"thread_id": f"t{next(ids)}"}}
            paused = graph.invoke({"plan_id": "p"}, config)
            if "__interrupt__" not in paused:
                raise RuntimeError(f"the LangGraph run did not pause: {paused!r}")
            done = graph.invoke(Command(resume="approve"), config)
            if done.get("dispatched") != 1:
                raise RuntimeError(f"the LangGraph run did not dispatch: {done!r}")

    return Contender("LangGraph (interrupt + SqliteSaver)", run), conn


async def measure(workdir: Path, rounds: int = 5) -> list[Row]:
    """Time both sides; return the table rows."""
    ours, rt = flowai_contender(workdir)
    contenders, closers = [ours], [rt]
    try:
        peer, conn = langgraph_contender(workdir)
        contenders.append(peer)
        closers.append(conn)
    except ImportError:
        peer = None
    try:
        medians = await interleave(contenders, rounds=rounds)
    finally:
        for closer in closers:
            closer.close()
    rate = 1 / medians["flowai_nb"]
    workload = "pause + approve + resume"
    rows = [Row(workload, _rate(rate), bar=f">= {BAR:,.0f} round trips/s", passed=rate >= BAR)]
    if peer is None:
        rows.append(Row(workload, _rate(rate), "LangGraph (interrupt + SqliteSaver)",
                        PEER_HINT + " langgraph-checkpoint-sqlite"))
    else:
        theirs = 1 / medians[peer.name]
        rows.append(Row(workload, _rate(rate), peer.name, _rate(theirs), rate / theirs))
    return rows


def _rate(per_second: float) -> str:
    return f"{per_second:,.0f} /s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=size(5, 1), help="timed rounds (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowai-bench-") as tmp:
        rows = asyncio.run(measure(Path(tmp), args.rounds))
    print_table(f"approval round trips on SQLite, median of {args.rounds} interleaved rounds "
                f"(ratio = flowai_nb rate / peer rate)", rows,
                ["each flowai_nb round trip is a whole executor run: plan gate, persisted "
                 "pause, decision, dispatch, trace saved"])


if __name__ == "__main__":
    main()
