"""The runs Studio started or watched: their events, kept for replay and live following.

A run started from Studio is drained by a task here, so it keeps going whether
or not a page is watching; every SSE consumer replays its events from any
``seq`` and then follows live. When the runtime offers the durable journal
(``runtime.subscribe``), :func:`follow` reads that instead, which also sees runs
started by other processes sharing the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunHub", "TrackedRun", "compact"]

TERMINAL = ("completed", "failed", "cancelled")
_DELTAS = ("text-delta", "reasoning-delta")


@dataclass
class TrackedRun:
    """One run as Studio saw it: a summary, and (for runs it started) every event."""

    workspace: str
    run_id: str
    thread_id: str
    prompt: str
    stream: Any = None
    events: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"
    done: bool = False
    started_at: int | None = None
    updated_at: int | None = None
    count: int = 0
    finish: dict[str, Any] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, event: dict[str, Any], *, keep: bool = True) -> None:
        """Fold one event into the summary; ``keep`` also stores it for replay."""
        if keep:
            self.events.append(event)
        self.count += 1
        kind = event.get("type")
        if kind == "run-start":
            self.prompt = event.get("prompt") or self.prompt
        if kind == "run-finish":
            self.status = event.get("status") or "completed"
            self.finish = event
        elif kind == "approval-required":
            self.status = "paused"
        elif kind == "approval-decision" and self.status == "paused":
            self.status = "running"
        self.started_at = self.started_at or event.get("ts")
        self.updated_at = event.get("ts") or self.updated_at
        self.changed.set()

    def summary(self) -> dict[str, Any]:
        return {"runId": self.run_id, "threadId": self.thread_id, "workspace": self.workspace,
                "prompt": self.prompt, "status": self.status, "startedAt": self.started_at,
                "updatedAt": self.updated_at, "events": self.count,
                "text": self.finish.get("text"), "traceId": self.finish.get("traceId"),
                "usage": self.finish.get("usage")}


class RunHub:
    """Runs by id; each keeps every event it emitted since Studio saw it start."""

    def __init__(self) -> None:
        self.runs: dict[str, TrackedRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def track(self, workspace: str, stream: Any, prompt: str) -> TrackedRun:
        """Start draining ``stream`` (a RunStream) on the running loop; return its record."""
        run = self.runs.get(stream.run_id)
        if run is None:
            run = TrackedRun(workspace, stream.run_id, stream.thread_id, prompt)
            self.runs[run.run_id] = run
        run.stream = stream
        task = asyncio.get_running_loop().create_task(self._drain(run, stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    def observe(self, workspace: str, event: dict[str, Any]) -> None:
        """Note an event seen in the journal (any process): keeps the run's summary."""
        run_id = event.get("runId")
        if not isinstance(run_id, str):
            return
        run = self.runs.get(run_id)
        if run is None:
            run = TrackedRun(workspace, run_id, str(event.get("threadId")), "")
            self.runs[run_id] = run
        if run.stream is None:  # runs started here are folded by _drain
            run.add(event, keep=False)

    async def _drain(self, run: TrackedRun, stream: Any) -> None:
        try:
            async for event in stream:
                run.add(event)
        except Exception as exc:  # the stream itself broke: say so, end the run's view
            run.add({"type": "error", "runId": run.run_id, "threadId": run.thread_id,
                     "seq": len(run.events), "message": f"{type(exc).__name__}: {exc}",
                     "where": "studio"})
        if run.status not in TERMINAL and run.status != "paused":
            run.status = stream.status
        run.done = True
        run.changed.set()

    def started_here(self, run_id: str) -> bool:
        """Whether this Studio started the run (so it holds every event)."""
        run = self.runs.get(run_id)
        return run is not None and run.stream is not None

    async def events(self, run_id: str, after: int = -1) -> AsyncIterator[list[dict[str, Any]]]:
        """Batches of the run's events with ``seq > after``: the past at once, then live."""
        run = self.runs[run_id]
        index = next((i for i, e in enumerate(run.events) if e.get("seq", -1) > after),
                     len(run.events))
        while True:
            if index < len(run.events):
                batch = run.events[index:]
                index += len(batch)
                yield batch
                if batch[-1].get("type") == "run-finish":
                    return
                continue
            if run.done:
                return
            run.changed.clear()
            await run.changed.wait()

    async def close(self) -> None:
        """Stop following; runs still waiting for a person stay paused in the store."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task


def compact(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge consecutive text (or reasoning) deltas of one agent into one event.

    The merged event keeps the last delta's ``seq`` and counts the deltas in
    ``count``; joining every ``delta`` gives exactly the original text.
    """
    out: list[dict[str, Any]] = []
    for event in events:
        last = out[-1] if out else None
        if (last is not None and event.get("type") in _DELTAS and last["type"] == event["type"]
                and last.get("agent") == event.get("agent")
                and last.get("parentId") == event.get("parentId")):
            last["delta"] += event.get("delta", "")
            last["count"] = last.get("count", 1) + 1
            last["seq"] = event.get("seq")
            continue
        out.append(dict(event))
    return out
