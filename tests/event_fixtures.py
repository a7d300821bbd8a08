"""Event sequences recorded from the engine, for front-end (JS) replay tests.

Widget tests replay these instead of hand-written event dicts (SPEC §5.1). Each
scenario runs a real runtime on the scripted interpreter and records its events;
ids and times are normalised so the files are stable. Regenerate with::

    python -m tests.event_fixtures          # writes tests/fixtures/events/*.json

``tests/engine/test_event_fixtures.py`` fails when a committed file differs
from a fresh recording.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import flowai_nb as fa

from .engine.conftest import BODY, FLOW, Dispatcher, build_runtime, collect

FIXTURES = Path(__file__).parent / "fixtures" / "events"


def _approve(event: dict[str, Any]) -> tuple[str, ...]:
    return ("approve",)


def _reject(event: dict[str, Any]) -> tuple[str, ...]:
    return ("reject", "too many units")


SCENARIOS: dict[str, dict[str, Any]] = {
    "text": {"entry": "router", "scripts": {"router": [{"text": ["Hello", ", ", "world."]}]}},
    "tools": {"entry": "analyst", "scripts": {"analyst": [
        {"text": "Checking.", "tool": "stock_level", "args": {"sku": "A"}},
        {"tool": "explode", "args": {}},
        {"text": ["3 units ", "left."]}]}},
    "plan_approved": {"entry": "router", "scripts": FLOW, "answer": _approve},
    "plan_rejected": {"entry": "router", "scripts": {
        **FLOW, "router": FLOW["router"][:2] + [{"text": "Rejected."}]}, "answer": _reject},
    "failed": {"entry": "router", "scripts": {"router": [
        {"tool": "call_agent", "args": {"agent": "planner", "prompt": "plan"}}],
        "planner": []}},
}


def _normalise(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    run_id = events[0]["runId"]
    thread_id = events[0]["threadId"]
    text = json.dumps(events).replace(run_id, "run-1").replace(thread_id, "thread-1")
    out = json.loads(text)
    for event in out:
        event["ts"] = 1_700_000_000_000 + 10 * event["seq"]
    return out


async def _record(name: str) -> list[dict[str, Any]]:
    scenario = SCENARIOS[name]
    rt = build_runtime(scenario["scripts"], dispatcher=Dispatcher())
    if scenario["entry"] == "router":
        stream = rt.query("Restock product A.", "fixture")
    else:
        stream = rt.run_specialist(scenario["entry"], "How many units of A?", "fixture")
    return await collect(stream, scenario.get("answer"))


def record(name: str) -> list[dict[str, Any]]:
    """The normalised events of scenario ``name``."""
    return _normalise(asyncio.run(_record(name)))


def write_all(folder: Path = FIXTURES) -> list[Path]:
    """Record every scenario to ``folder/<name>.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SCENARIOS:
        path = folder / f"{name}.json"
        path.write_text(json.dumps(record(name), indent=1) + "\n")
        paths.append(path)
    return paths


assert BODY and fa  # the scenarios use the engine tests' plan and spec

if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES):
        print(written)
