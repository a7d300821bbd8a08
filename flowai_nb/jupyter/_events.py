"""Pure-Python bookkeeping of one run's event stream (SPEC §5).

:class:`RunState` folds events into what the widgets and the text summary show;
:class:`EventLog` keeps an order-preserving, compacted copy of the events
(consecutive text deltas of one agent merged into one event), which is what
the front end receives. Nothing here touches widgets or the event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

TERMINAL = ("completed", "failed", "cancelled")
_DELTA_TYPES = ("text-delta", "reasoning-delta")


class EventLog:
    """Events in order, with runs of deltas from one agent merged into one event.

    Merged events keep the first delta's ``seq``/``ts`` and gain ``count`` (how
    many deltas they hold). Joining the ``delta`` of every merged text event
    gives exactly the concatenation of the original deltas.
    """

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._parts: dict[int, list[str]] = {}  # index of a merged delta event -> its pieces

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: dict[str, Any]) -> None:
        """Append one event, merging it into the previous one when both are deltas."""
        if event.get("type") in _DELTA_TYPES and self._events:
            last_index = len(self._events) - 1
            last = self._events[last_index]
            if (
                last.get("type") == event["type"]
                and last.get("agent") == event.get("agent")
                and last.get("parentId") == event.get("parentId")
            ):
                self._parts.setdefault(last_index, [last.get("delta", "")]).append(
                    event.get("delta", "")
                )
                last["count"] = last.get("count", 1) + 1
                return
        self._events.append(dict(event))

    def events(self) -> list[dict[str, Any]]:
        """The compacted events (copies with merged deltas materialised)."""
        for index, parts in self._parts.items():
            self._events[index]["delta"] = "".join(parts)
            self._parts[index] = [self._events[index]["delta"]]
        return [dict(e) for e in self._events]

    def clear(self) -> None:
        """Forget every event."""
        self._events.clear()
        self._parts.clear()


@dataclass
class ToolCallInfo:
    """One tool call and, once it returned, its result or error."""

    call_id: str
    tool: str
    agent: str | None
    parent_id: str | None
    args: Any
    result: Any = None
    error: Any = None
    done: bool = False


@dataclass
class PlanInfo:
    """A stored plan and the live status of each of its actions."""

    plan_id: str
    plan: str
    status: str
    actions: list[dict[str, Any]]
    action_statuses: dict[int, str] = field(default_factory=dict)

    def action_status(self, index: int) -> str:
        """An action's own status, else the one it inherits from the plan."""
        return self.action_statuses.get(index) or self.status


@dataclass
class ApprovalInfo:
    """An approval the run asked for and, once given, its decision."""

    approval_id: str
    kind: str
    target: str
    payload: Any
    agent: str | None = None
    run_id: str | None = None
    resume_token: str | None = None
    outcome: str | None = None
    feedback: str | None = None
    partial: Any = None

    @property
    def label(self) -> str:
        """What is asked about: the plan's spec name for plans (ids may be random), else target."""
        if self.kind == "plan" and isinstance(self.payload, dict) and self.payload.get("plan"):
            return str(self.payload["plan"])
        return str(self.target)

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> ApprovalInfo:
        """Build from an ``approval-required`` event or a ``pending_approvals()`` entry."""
        try:
            approval_id = request["approvalId"]
        except (KeyError, TypeError):
            raise ValueError(
                f"an approval request needs an 'approvalId' key, got {request!r}"
            ) from None
        return cls(
            approval_id=approval_id,
            kind=request.get("kind", "tool"),
            target=request.get("target", ""),
            payload=request.get("payload"),
            agent=request.get("agent"),
            run_id=request.get("runId"),
            resume_token=request.get("resumeToken"),
        )


class RunState:
    """What a run looks like so far, folded from its events."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.thread_id: str | None = None
        self.prompt: str | None = None
        self.entry_agent: str | None = None
        self.status = "starting"
        self.text: str | None = None
        self.trace_id: str | None = None
        self.agents: list[str] = []
        self.tools: dict[str, ToolCallInfo] = {}
        self.plans: dict[str, PlanInfo] = {}
        self.approvals: dict[str, ApprovalInfo] = {}
        self.errors: list[str] = []
        self.usage: dict[str, Any] = {}
        self._root_text: list[str] = []
        self._final_usage = False

    @property
    def streamed_text(self) -> str:
        """The entry agent's text deltas joined, as they streamed."""
        return "".join(self._root_text)

    @property
    def pending(self) -> list[ApprovalInfo]:
        """Approvals asked for and not decided yet."""
        return [a for a in self.approvals.values() if a.outcome is None]

    @property
    def display_status(self) -> str:
        """``status``, or ``waiting for approval`` while an approval is open."""
        if self.status not in TERMINAL and self.pending:
            return "waiting for approval"
        return self.status

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the state. Unknown event types are ignored."""
        kind = event.get("type")
        self.run_id = self.run_id or event.get("runId")
        self.thread_id = self.thread_id or event.get("threadId")
        if self.status == "starting":
            self.status = "running"
        agent = event.get("agent")
        if agent and agent not in self.agents and kind == "agent-start":
            self.agents.append(agent)
        if kind == "run-start":
            self.prompt = event.get("prompt")
            self.entry_agent = event.get("entryAgent") or agent
        elif kind == "text-delta":
            if event.get("parentId") is None:
                self._root_text.append(event.get("delta", ""))
        elif kind == "tool-call":
            call_id = event.get("callId") or f"#{len(self.tools)}"
            self.tools[call_id] = ToolCallInfo(
                call_id, event.get("tool", "?"), agent, event.get("parentId"), event.get("args")
            )
        elif kind == "tool-result":
            call = self.tools.get(event.get("callId", ""))
            if call is not None:
                call.done = True
                call.result = event.get("result")
                call.error = event.get("error")
        elif kind == "plan-stored":
            plan_id = event.get("planId", "")
            self.plans[plan_id] = PlanInfo(
                plan_id, event.get("plan", ""), event.get("status", "draft"),
                list(event.get("actions") or []),
            )
        elif kind == "plan-status":
            plan = self.plans.get(event.get("planId", ""))
            if plan is not None:
                plan.status = event.get("status", plan.status)
                if plan.status == "draft":
                    plan.action_statuses.clear()
        elif kind == "action-status":
            plan = self.plans.get(event.get("planId", ""))
            if plan is not None and isinstance(event.get("index"), int):
                plan.action_statuses[event["index"]] = event.get("status", "")
        elif kind == "approval-required":
            info = ApprovalInfo.from_request(event)
            self.approvals[info.approval_id] = info
        elif kind == "approval-decision":
            info = self.approvals.get(event.get("approvalId", ""))
            if info is not None:
                info.outcome = event.get("outcome")
                info.feedback = event.get("feedback")
                info.partial = event.get("partial")
        elif kind == "usage" and not self._final_usage:
            for key, value in event.items():
                if key in ("inputTokens", "outputTokens", "costUsd") and value is not None:
                    self.usage[key] = self.usage.get(key, 0) + value
        elif kind == "error":
            where = event.get("where")
            message = str(event.get("message", ""))
            self.errors.append(f"{where}: {message}" if where else message)
        elif kind == "run-finish":
            self.status = event.get("status", "completed")
            self.text = event.get("text")
            self.trace_id = event.get("traceId")
            if event.get("usage"):
                self.usage = dict(event["usage"])
                self._final_usage = True

    def fail(self, message: str) -> None:
        """Record a failure of the consumer itself (the stream raised)."""
        self.errors.append(message)
        self.status = "failed"

    def summary(self) -> str:
        """A deterministic, human-readable text summary (no ids, no times)."""
        lines = [f"status: {self.status}"]
        if self.prompt is not None:
            lines.append(f"prompt: {_short(self.prompt, 200)}")
        if self.agents:
            lines.append("agents: " + ", ".join(self.agents))
        lines.append(f"tool calls ({len(self.tools)}):")
        for call in self.tools.values():
            outcome = "pending" if not call.done else (
                f"error: {_short(_text(call.error), 80)}" if call.error is not None else "ok"
            )
            lines.append(
                f"  {call.agent}: {call.tool}({_short(_text(call.args), 80)}) -> {outcome}")
        if self.plans:
            lines.append(f"plans ({len(self.plans)}):")
            for plan in self.plans.values():
                actions = ", ".join(
                    f"{a.get('kind', '?')}: {plan.action_status(i)}"
                    for i, a in enumerate(plan.actions)
                )
                lines.append(f"  {plan.plan}: {plan.status} [{actions}]")
        if self.approvals:
            lines.append(f"approvals ({len(self.approvals)}):")
            for a in self.approvals.values():
                decision = a.outcome or "pending"
                if a.feedback:
                    decision += f" (feedback: {a.feedback})"
                lines.append(f"  {a.kind} {a.label}: {decision}")
        if self.errors:
            lines.append(f"errors ({len(self.errors)}):")
            lines.extend(f"  {e}" for e in self.errors)
        text = self.text if self.text is not None else self.streamed_text
        lines.append(f"text: {text}")
        if self.usage:
            lines.append(
                f"usage: {self.usage.get('inputTokens', 0)} input / "
                f"{self.usage.get('outputTokens', 0)} output tokens"
            )
        return "\n".join(lines)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
