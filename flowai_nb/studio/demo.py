"""The demo's retail data agent as a Studio app: ``flowai-nb studio flowai_nb.studio.demo:app``.

The same offline agent as ``make demo`` (a coordinator, an analyst over a sample
retail database, a planner and an executor whose plan waits for your approval),
with one addition that makes Revise useful in a UI: when the reviewer asks for a
revision and the planner stores a new version, the executor submits that version
for approval (a second card, with the diff).

The runtime keeps its state in a SQLite store, so runs started by another
process on the same store (a notebook, a script) show up in Studio live. By
default the store and the sample database live in a fresh temporary folder; set
``FLOWAI_NB_DEMO_DIR`` to share one folder between processes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import flowai_nb as fa
from flowai_nb.interpreters import ToolUse
from flowai_nb.interpreters.base import TurnEvent, TurnRequest
from flowai_nb.interpreters.scripted import ScriptedInterpreter

__all__ = ["ORDERS", "PROMPT", "app", "make_runtime"]

PROMPT = "Are any Lisbon products running low? Restock them."

ORDERS = "orders.jsonl"
"""The file (in the demo folder) where the dispatcher appends each call's actions, one line
per call: what a real dispatcher would send to the ordering system."""


class _Revising(ScriptedInterpreter):
    """Scripted turns, except that an executor told its plan was revised submits the revision."""

    async def turn(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        revised = _revised_plan(request) if request.role == "executor" else None
        if revised is not None:
            yield ToolUse(id=f"call-executor-{revised}", name="execute_plan",
                          input={"plan_id": revised})
            return
        async for event in super().turn(request):
            yield event


def _revised_plan(request: TurnRequest) -> str | None:
    last = request.messages[-1] if request.messages else None
    blocks = last.get("content") if isinstance(last, dict) else None
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            try:
                result = json.loads(block.get("content") or "")
            except (TypeError, ValueError):
                continue
            if isinstance(result, dict) and result.get("status") == "revision_requested":
                return result.get("revisedPlanId")
    return None


def _dispatcher(orders: Path) -> Any:
    def dispatch(actions: list[dict[str, Any]], ctx: Any) -> dict[str, Any]:
        with orders.open("a", encoding="utf-8") as out:
            out.write(json.dumps(actions) + "\n")
        return {"entitiesAffected": len(actions), "summary": f"{len(actions)} orders placed"}

    return dispatch


def make_runtime(folder: str | os.PathLike[str] | None = None) -> Any:
    """The demo runtime on the SQLite store and sample database in ``folder``.

    ``folder`` defaults to ``$FLOWAI_NB_DEMO_DIR``, else a new temporary folder.
    Two processes given the same folder share runs, approvals, plans and traces.
    """
    from flowai_nb.data.sample import make_sample_sqlite
    from flowai_nb.demo import build
    from flowai_nb.storage import open_store

    root = Path(folder or os.environ.get("FLOWAI_NB_DEMO_DIR")
                or tempfile.mkdtemp(prefix="flowai-studio-"))
    root.mkdir(parents=True, exist_ok=True)
    db = root / "retail.db"
    if not db.exists():
        make_sample_sqlite(db)
    spec = build(db)
    spec = spec.model_copy(update={"storage_factories": fa.StorageFactories(
        kv=fa.StorageFactorySpec(kind="sqlite", config={"path": str(root / "store.db")}))})
    scripts = spec.providers["scripted"]["scripts"]
    interpreter = _Revising(scripts, open_store({"kind": "memory"}))
    return fa.create_runtime(spec, interpreter=interpreter,
                             action_dispatcher=_dispatcher(root / ORDERS),
                             target_database_url=f"sqlite:///{db}")


app = fa.define_app("retail demo", workspaces=[
    fa.define_workspace_runtime("lisbon", make_runtime,
                                description="Lisbon stores: low stock and restock plans (offline)"),
])
