"""The main job of ``make demo``: an agent run with an approval, offline, on embedded DuckDB.

A coordinator asks an analyst to find low stock in a sample retail database
(SQLite, attached read-only to DuckDB), a planner drafts a typed restock plan,
and an executor submits it: the run pauses for your approval before anything is
dispatched. Model turns are played by the scripted interpreter, so it runs
offline and the same way every time; use ``interpreter="anthropic"`` for a live
model.

Run it with ``python -m flowai_nb.demo [--yes]`` (or ``flowai-nb demo``). It asks
you to approve, reject or revise on stdin; ``--yes`` approves without asking, and
when stdin has no answer (closed, as in CI) it approves on your behalf and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

import flowai_nb as fa
from flowai_nb._json import dumps

LOW_STOCK_SQL = (
    "SELECT p.sku, p.name, i.on_hand, i.reorder_point FROM inventory i "
    "JOIN products p USING (product_id) JOIN stores s USING (store_id) "
    "WHERE s.city = 'Lisbon' AND i.on_hand < i.reorder_point ORDER BY p.sku"
)


class Restock(BaseModel):
    """Order more units of one product for one store."""

    kind: Literal["restock"] = "restock"
    store: str
    sku: str
    units: int


class RestockPlan(BaseModel):
    """A restock plan: why, and which orders."""

    rationale: str
    actions: list[fa.TaggedUnion(Restock)]


def _low_stock(db: Path) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(db) as con:
        return con.execute(LOW_STOCK_SQL).fetchall()[:3]


def build(db: Path) -> fa.RuntimeSpec:
    """The demo's runtime spec, with the scripted model turns that stand in for a model."""
    low = _low_stock(db)
    orders = [{"kind": "restock", "store": "Lisbon", "sku": sku,
               "units": 2 * reorder - on_hand} for sku, _name, on_hand, reorder in low]
    smaller = [{**order, "units": reorder - on_hand}
               for order, (_sku, _name, on_hand, reorder) in zip(orders, low, strict=True)]
    skus = ", ".join(sku for sku, *_ in low)
    plan = fa.define_plan("restock", RestockPlan)
    scripts = {
        "ops": [
            {"text": "Let me ask the analyst. ",
             "tool": "call_agent", "args": {"agent": "analyst",
                                            "prompt": "Which Lisbon products are low on stock?"}},
            {"tool": "call_agent", "args": {"agent": "planner",
                                            "prompt": f"Plan a restock of {skus} in Lisbon."}},
            {"tool": "call_agent", "args": {"agent": "executor",
                                            "prompt": "Execute plan lisbon-restock."}},
            {"text": ["Lisbon ", "is low ", "on ", f"{skus}; ", "the restock plan ",
                      "was put to you for approval."]},
        ],
        "analyst": [
            {"tool": "search_catalog", "args": {"query": "reorder point on hand", "limit": 3}},
            {"tool": "run_sql", "args": {"sql": LOW_STOCK_SQL}},
            {"text": ["Lisbon is below the reorder point on ", f"{len(low)} products: ",
                      f"{skus}."]},
        ],
        "planner": [
            {"tool": "store_plan", "args": {"plan_id": "lisbon-restock", "body": {
                "rationale": "Bring each product back to twice its reorder point.",
                "actions": orders}}},
            {"text": "Drafted plan lisbon-restock."},
            # used only if you answer "revise": the scripted executor submits once, so
            # the revised draft waits for another run
            {"tool": "store_plan", "args": {"plan_id": "lisbon-restock", "body": {
                "rationale": "Revised: bring each product back to its reorder point.",
                "actions": smaller}}},
            {"text": "Revised plan lisbon-restock."},
        ],
        "executor": [
            {"tool": "execute_plan", "args": {"plan_id": "lisbon-restock"}},
            {"text": "Plan lisbon-restock was submitted for approval."},
        ],
    }
    spec = fa.define_runtime(
        fa.define_tenant("demo-retail", "1"),
        agents=[
            fa.define_coordinator("ops", model="claude-sonnet-4-5", prompt="You run store ops.",
                                  routes=["analyst", "planner", "executor"]),
            fa.define_specialist("analyst", model="claude-sonnet-4-5",
                                 prompt="You answer data questions with SQL.",
                                 toolkits=["catalog", "sql"]),
            fa.define_planner("planner", model="claude-sonnet-4-5",
                              prompt="You draft restock plans.", plan=plan),
            fa.define_executor("executor", model="claude-sonnet-4-5",
                               prompt="You execute approved plans.", plan=plan),
        ],
        providers={"scripted": {"scripts": scripts}},
    )
    return spec


def _short(value: Any, width: int = 96) -> str:
    text = value if isinstance(value, str) else dumps(value, compact=False)
    return text if len(text) <= width else text[: width - 1] + "…"


_ANSWERS = {"a": "approve", "approve": "approve", "r": "reject", "reject": "reject",
            "v": "revise", "revise": "revise"}
_TRIES = 3


class NoAnswerError(RuntimeError):
    """The approval prompt got no valid answer after a few tries."""


def _read(prompt: str) -> str:
    answer = input(prompt)
    if not sys.stdin.isatty():
        print(answer)  # piped answers: echo them so the output reads as a transcript
    return answer.strip()


def _ask(event: dict[str, Any], *, yes: bool = False) -> tuple[str, str | None]:
    """Show the approval card and get an answer: ``--yes``, the terminal, or approve on EOF."""
    actions = event["payload"]["actions"]
    print("\n  ┌─ approval required: plan", event["target"])
    for i, action in enumerate(actions, 1):
        print(f"  │ {i}. {action['kind']:8} {_short(action['payload'], 70)}")
    if yes:
        print("  └─ --yes: approved without asking")
        return "approve", None
    try:
        for _ in range(_TRIES):
            answer = _read("  └─ [a]pprove / [r]eject / re[v]ise? ")
            outcome = _ANSWERS.get(answer.lower())
            if outcome is not None:
                break
            print(f"     {answer!r} is not an answer: type a, r or v")
        else:
            raise NoAnswerError(f"no valid answer after {_TRIES} tries; expected a (approve), "
                                f"r (reject) or v (revise), or run with --yes to approve")
    except EOFError:
        print("\n  └─ no answer available on stdin: approving on your behalf "
              "(--yes skips the prompt)")
        return "approve", None
    if outcome == "approve":
        return outcome, None
    try:
        feedback = _read("     feedback: ") or None
    except EOFError:
        print()
        feedback = None
    return outcome, feedback


async def main(*, yes: bool = False) -> int:
    """Run the demo; return the process exit code. ``yes`` approves without asking."""
    workdir = Path(tempfile.mkdtemp(prefix="flowai-demo-"))
    from flowai_nb.data.sample import make_sample_sqlite

    db = make_sample_sqlite(workdir / "retail.db")
    spec = build(db)
    dispatched: list[dict[str, Any]] = []

    def dispatch(actions: list[dict[str, Any]], ctx: Any) -> dict[str, Any]:
        dispatched.extend(actions)
        return {"entitiesAffected": len(actions), "summary": f"{len(actions)} orders placed"}

    runtime = fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatch,
                                target_database_url=f"sqlite:///{db}")
    print(f"flowai_nb demo: {runtime}\n  data: {db.name} (SQLite, attached read-only to DuckDB)\n")
    stream = runtime.query("Are any Lisbon products running low? Restock them.", "demo")
    text_open = False
    outcomes: list[str] = []
    async for event in stream:
        kind = event["type"]
        if kind != "text-delta" and text_open:
            print()
            text_open = False
        if kind == "agent-start":
            print(f"{'  ' * event['depth']}▶ {event['agent']} ({event['role']})")
        elif kind == "text-delta":
            if not text_open:
                print(f"  {event['agent']}: ", end="")
                text_open = True
            print(event["delta"], end="", flush=True)
        elif kind == "tool-call" and event["tool"] != "call_agent":
            print(f"  → {event['tool']}({_short(event['args'], 80)})")
        elif kind == "tool-result" and event["tool"] != "call_agent":
            shown = event.get("glimpse") or event.get("result") or event.get("error")
            print(f"  ← {_short(shown)}")
        elif kind == "plan-status":
            print(f"  plan {event['planId']}: {event['status']}")
        elif kind == "approval-required":
            try:
                outcome, feedback = _ask(event, yes=yes)
            except NoAnswerError as exc:
                print(f"\nerror: {exc}", file=sys.stderr)
                runtime.close()
                return 2
            outcomes.append(outcome)
            await runtime.respond_to_approval(event["approvalId"], outcome, feedback)
        elif kind == "run-finish":
            print(f"\n■ run {event['status']}: {event['text']}")
    if "revise" in outcomes:
        print("\nthe revised plan (lisbon-restock@v2) is a draft: it awaits another run, since "
              "this demo's scripted executor submits a plan only once")
    trace = runtime.get_trace(f"trace-{stream.run_id}")
    print(f"\ndispatched {len(dispatched)} action(s): "
          f"{', '.join(a['payload']['sku'] for a in dispatched) or 'none'}")
    print(f"trace {trace['traceId']}: {len(trace['events'])} events, "
          f"{len(trace['spans'])} spans")
    runtime.close()
    return 0 if stream.status == "completed" else 1


def cli(argv: list[str] | None = None) -> int:
    """``python -m flowai_nb.demo [--yes]``: parse the arguments and run :func:`main`."""
    parser = argparse.ArgumentParser(prog="python -m flowai_nb.demo", description=_SUMMARY)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return asyncio.run(main(yes=args.yes))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options (``--yes``) to ``parser``; shared with ``flowai-nb demo``."""
    parser.add_argument("--yes", "-y", action="store_true",
                        help="approve the plan without asking")


_SUMMARY = "Run an agent with an approval, offline, on embedded DuckDB."

if __name__ == "__main__":
    raise SystemExit(cli())
