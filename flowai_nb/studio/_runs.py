"""The runs Studio started or watched: a summary of each, folded by the one fold.

A run started from Studio is drained by a task here, so it keeps going whether
or not a page is watching. Its events are not kept here: every SSE consumer
reads them from the runtime's journal (``runtime.subscribe``, SPEC §5.2), which
also sees runs started by other processes sharing the store. The summary of a
run (status, prompt, times, final text) comes from :class:`RunState`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from ..engine.events import TERMINAL_STATUSES as TERMINAL
from ..engine.state import RunState

__all__ = ["RunHub", "TrackedRun", "compact", "TERMINAL"]

_DELTAS = ("text-delta", "reasoning-delta")


@dataclass
class TrackedRun:
    """One run as Studio saw it: the fold of the events it saw, and its stream if started here."""

    workspace: str
    run_id: str
    thread_id: str
    prompt: str
    stream: Any = None
    state: RunState = field(default_factory=RunState)
    ended: str | None = None  # how the stream ended when it closed without run-finish

    def add(self, event: dict[str, Any]) -> None:
        """Fold one event into the run's state."""
        self.state.apply(event)

    @property
    def status(self) -> str:
        """running, paused, completed, failed or cancelled."""
        status = self.state.status
        if status not in TERMINAL and self.ended is not None:
            return self.ended
        return "running" if status == "starting" else status

    def summary(self) -> dict[str, Any]:
        state = self.state
        finished = state.finished
        return {"runId": self.run_id, "threadId": self.thread_id, "workspace": self.workspace,
                "prompt": state.prompt or self.prompt, "status": self.status,
                "startedAt": state.started_at, "updatedAt": state.last_ts,
                "events": state.event_count, "text": state.text if finished else None,
                "traceId": state.trace_id if finished else None,
                "usage": state.usage if finished else None}


class RunHub:
    """Runs by id: those Studio started (drained here) and those it saw in the journal."""

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
            run.add(event)

    async def _drain(self, run: TrackedRun, stream: Any) -> None:
        try:
            async for event in stream:
                run.add(event)
        except Exception as exc:  # the stream itself broke: say so, end the run's view
            run.add({"type": "error", "runId": run.run_id, "threadId": run.thread_id,
                     "message": f"{type(exc).__name__}: {exc}", "where": "studio"})
        if not run.state.finished and run.status != "paused":
            run.ended = stream.status

    def started_here(self, run_id: str) -> bool:
        """Whether this Studio started the run (and so can cancel it)."""
        run = self.runs.get(run_id)
        return run is not None and run.stream is not None

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
