"""Traces: every run's events plus spans (agents and tools) with parent links (SPEC §12).

A trace is the :class:`~flowai_nb.engine.state.RunState` fold of the run's events
in stored form; nothing here computes state of its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..storage.base import KeyValueStore, Op
from .events import DELTA_TYPES
from .journal import Journal
from .state import RunState

__all__ = ["TraceRecorder", "TraceStore", "trace_id_of"]


def trace_id_of(run_id: str) -> str:
    """The id of a run's trace."""
    return f"trace-{run_id}"


class TraceRecorder:
    """Builds a trace from a run's event stream, one event at a time.

    Spans: one per agent invocation (``agent-start`` → ``agent-finish``) and
    one per tool call (``tool-call`` → ``tool-result``). A tool span's parent
    is its agent's span; a sub-agent's span's parent is the ``call_agent``
    tool span that started it.
    """

    __slots__ = ("trace_id", "run_id", "thread_id", "tags", "events", "state", "status",
                 "hook_errors", "add")

    def __init__(self, trace_id: str, run_id: str, thread_id: str,
                 tags: dict[str, Any] | None = None) -> None:
        self.trace_id = trace_id
        self.run_id = run_id
        self.thread_id = thread_id
        self.tags = dict(tags or {})
        self.events: list[dict[str, Any]] = []
        self.state = RunState()
        self.status = "running"
        self.hook_errors: list[str] = []
        append, apply = self.events.append, self.state.apply

        def add(event: dict[str, Any]) -> None:
            append(event)
            etype = event["type"]
            if etype in DELTA_TYPES:  # spans and totals do not depend on streamed text
                return
            apply(event)
            if etype == "run-finish":
                self.status = event["status"]

        self.add = add
        """Record one event (called by the run for every event it emits)."""

    @property
    def started_at(self) -> int | None:
        """``ts`` of ``run-start``."""
        return self.state.started_at

    def to_dict(self) -> dict[str, Any]:
        """The trace as stored and returned by ``runtime.get_trace``."""
        state = self.state
        return {
            "traceId": self.trace_id, "runId": self.run_id, "threadId": self.thread_id,
            "evalRunId": self.tags.get("evalRunId"), "testCaseId": self.tags.get("testCaseId"),
            "status": self.status, "startedAt": state.started_at, "endedAt": state.ended_at,
            "usage": state.usage if state.finished else {}, "events": self.events,
            "spans": state.spans(), "hookErrors": self.hook_errors,
        } | ({"tags": self.tags["tags"]} if self.tags.get("tags") else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceRecorder:
        """Rebuild a recorder from a stored (paused) trace, to continue it."""
        tags = {k: data.get(k) for k in ("evalRunId", "testCaseId") if data.get(k)}
        if data.get("tags"):
            tags["tags"] = data["tags"]
        rec = cls(data["traceId"], data["runId"], data["threadId"], tags)
        for event in data["events"]:
            rec.add(event)
        rec.status = data.get("status", "running")
        return rec


class TraceStore:
    """Traces in the tenant's kv store under ``traces/<traceId>``.

    A stored trace holds everything but its events, which are the run's journal
    (:mod:`~flowai_nb.engine.journal`); :meth:`get` and :meth:`list` put them back.
    Each trace is indexed by thread, eval run (and test case) and test case under
    ``trace-index/...``, written in the same transaction as the trace, so a filtered
    :meth:`list` reads only the matching traces.
    """

    def __init__(self, kv: KeyValueStore, journal: Journal) -> None:
        self._kv = kv
        self._journal = journal

    @staticmethod
    def key(trace_id: str) -> str:
        """Where a trace is stored."""
        return f"traces/{trace_id}"

    @staticmethod
    def save_ops(trace: dict[str, Any]) -> list[Op]:
        """The store writes that save ``trace`` (without its events) and its index entries."""
        trace_id = trace["traceId"]
        stored = {k: v for k, v in trace.items() if k != "events"}
        stored["eventCount"] = len(trace.get("events") or ())
        ops: list[Op] = [("put", TraceStore.key(trace_id), stored)]
        for prefix in _index_prefixes(trace.get("threadId"), trace.get("evalRunId"),
                                      trace.get("testCaseId")):
            ops.append(("put", prefix + trace_id, 1))
        return ops

    def save(self, trace: dict[str, Any]) -> None:
        """Store (or replace) a trace."""
        self._kv.write(self.save_ops(trace))

    def get(self, trace_id: str) -> dict[str, Any] | None:
        """The trace, or ``None``."""
        return self._with_events(self.stored(trace_id))

    def stored(self, trace_id: str) -> dict[str, Any] | None:
        """The trace as stored, without its events (they are the run's journal)."""
        stored: dict[str, Any] | None = self._kv.get(self.key(trace_id))
        return stored

    def _with_events(self, stored: dict[str, Any] | None) -> dict[str, Any] | None:
        if stored is None or "events" in stored:
            return stored
        events = self._journal.read(stored["runId"])
        count = stored.pop("eventCount", len(events))
        stored["events"] = events[:count]
        return stored

    def list(self, *, eval_run_id: str | None = None, test_case_id: str | None = None,
             thread_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        """Traces matching every given filter, oldest first (read through the index)."""
        wanted = {"evalRunId": eval_run_id, "testCaseId": test_case_id, "threadId": thread_id,
                  "runId": run_id}
        wanted = {k: v for k, v in wanted.items() if v is not None}
        if run_id is not None:
            trace = self.get(trace_id_of(run_id))
            candidates = [] if trace is None else [trace]
        elif wanted:
            prefix = _index_prefixes(thread_id, eval_run_id, test_case_id, query=True)[0]
            candidates = [t for t in (self.get(key.rpartition("/")[2])
                                      for key in self._kv.keys(prefix)) if t is not None]
        else:
            candidates = [self._with_events(t) for _, t in self._kv.items("traces/")]
        found = [t for t in candidates if all(t.get(k) == v for k, v in wanted.items())]
        return sorted(found, key=lambda t: (t.get("startedAt") or 0, t["traceId"]))


def _index_prefixes(thread_id: str | None, eval_run_id: str | None, test_case_id: str | None,
                    *, query: bool = False) -> list[str]:
    """Index key prefixes of a trace (``query``: the most selective one for a filter)."""
    prefixes = []
    if eval_run_id is not None:
        prefixes.append(f"trace-index/eval/{_q(eval_run_id)}/{_q(test_case_id or '')}/"
                        if not query or test_case_id is not None
                        else f"trace-index/eval/{_q(eval_run_id)}/")
    if test_case_id is not None:
        prefixes.append(f"trace-index/case/{_q(test_case_id)}/")
    if thread_id is not None:
        prefixes.append(f"trace-index/thread/{_q(thread_id)}/")
    return prefixes


def _q(value: str) -> str:
    return quote(str(value), safe="")
