"""Traces: every run's events plus spans (agents and tools) with parent links."""

from __future__ import annotations

from typing import Any

from ..storage.base import KeyValueStore

__all__ = ["TraceRecorder", "TraceStore"]


class TraceRecorder:
    """Builds a trace from a run's event stream, one event at a time.

    Spans: one per agent invocation (``agent-start`` → ``agent-finish``) and
    one per tool call (``tool-call`` → ``tool-result``). A tool span's parent
    is its agent's span; a sub-agent's span's parent is the ``call_agent``
    tool span that started it.
    """

    __slots__ = ("trace_id", "run_id", "thread_id", "tags", "events", "spans", "_open_agents",
                 "status", "usage", "started_at", "ended_at", "hook_errors")

    def __init__(self, trace_id: str, run_id: str, thread_id: str,
                 tags: dict[str, Any] | None = None) -> None:
        self.trace_id = trace_id
        self.run_id = run_id
        self.thread_id = thread_id
        self.tags = dict(tags or {})
        self.events: list[dict[str, Any]] = []
        self.spans: dict[str, dict[str, Any]] = {}
        self._open_agents: dict[str, str] = {}  # agent name -> open span id (innermost)
        self.status = "running"
        self.usage: dict[str, Any] = {}
        self.started_at: int | None = None
        self.ended_at: int | None = None
        self.hook_errors: list[str] = []

    def add(self, event: dict[str, Any]) -> None:
        """Record one event (called by the run for every event it emits)."""
        self.events.append(event)
        etype = event["type"]
        if etype == "text-delta" or etype == "reasoning-delta":
            return
        ts = event["ts"]
        if etype == "agent-start":
            span_id = f"agent:{event['agent']}:{event['seq']}"
            parent = event.get("parentId")
            self.spans[span_id] = {
                "spanId": span_id, "parentId": f"tool:{parent}" if parent else None,
                "kind": "agent", "name": event["agent"], "agent": event["agent"],
                "start": ts, "end": None, "status": "running",
            }
            self._open_agents[event["agent"]] = span_id
        elif etype == "agent-finish":
            span_id = self._open_agents.pop(event["agent"], None)
            if span_id:
                self.spans[span_id].update(end=ts, status="error" if event.get("error") else "ok")
        elif etype == "tool-call":
            span_id = f"tool:{event['callId']}"
            self.spans[span_id] = {
                "spanId": span_id, "parentId": self._open_agents.get(event["agent"]),
                "kind": "tool", "name": event["tool"], "agent": event["agent"],
                "start": ts, "end": None, "status": "running",
            }
        elif etype == "tool-result":
            span = self.spans.get(f"tool:{event['callId']}")
            if span:
                span.update(end=ts, status="error" if "error" in event else "ok")
        elif etype == "run-start":
            self.started_at = ts
        elif etype == "run-finish":
            self.ended_at = ts
            self.status = event["status"]
            self.usage = event.get("usage") or {}
            for span in self.spans.values():  # spans a failure or cancel left open
                if span["end"] is None:
                    span.update(end=ts, status="error" if self.status == "failed"
                                else self.status)

    def to_dict(self) -> dict[str, Any]:
        """The trace as stored and returned by ``runtime.get_trace``."""
        return {
            "traceId": self.trace_id, "runId": self.run_id, "threadId": self.thread_id,
            "evalRunId": self.tags.get("evalRunId"), "testCaseId": self.tags.get("testCaseId"),
            "status": self.status, "startedAt": self.started_at, "endedAt": self.ended_at,
            "usage": self.usage, "events": self.events, "spans": list(self.spans.values()),
            "hookErrors": self.hook_errors,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceRecorder:
        """Rebuild a recorder from a stored (paused) trace, to continue it."""
        rec = cls(data["traceId"], data["runId"], data["threadId"],
                  {k: data.get(k) for k in ("evalRunId", "testCaseId") if data.get(k)})
        for event in data["events"]:
            rec.add(event)
        rec.status = data.get("status", "running")
        return rec


class TraceStore:
    """Traces in the tenant's kv store under ``traces/<traceId>``."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    def save(self, trace: dict[str, Any]) -> None:
        """Store (or replace) a trace."""
        self._kv.put(f"traces/{trace['traceId']}", trace)

    def get(self, trace_id: str) -> dict[str, Any] | None:
        """The trace, or ``None``."""
        return self._kv.get(f"traces/{trace_id}")

    def list(self, *, eval_run_id: str | None = None, test_case_id: str | None = None,
             thread_id: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        """Traces matching every given filter, oldest first."""
        wanted = {"evalRunId": eval_run_id, "testCaseId": test_case_id, "threadId": thread_id,
                  "runId": run_id}
        wanted = {k: v for k, v in wanted.items() if v is not None}
        found = [t for _, t in self._kv.items("traces/")
                 if all(t.get(k) == v for k, v in wanted.items())]
        return sorted(found, key=lambda t: (t.get("startedAt") or 0, t["traceId"]))
