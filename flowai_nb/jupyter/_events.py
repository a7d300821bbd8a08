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
    started: int | None = None
    ended: int | None = None
    cancelled: bool = False
    started_seq: int | None = None
    ended_seq: int | None = None

    @property
    def state(self) -> str:
        """``running``, ``done``, ``error``, ``cancelled`` (stopped by the user) or
        ``not finished`` (the run ended without a result)."""
        if self.cancelled:
            return "cancelled"
        if not self.done:
            return "running"
        return "error" if self.error is not None else "done"

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from the call to its result, once it returned."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started


@dataclass
class AgentStep:
    """One agent invocation: who, under which call, how long and how many tokens."""

    agent: str
    role: str | None
    parent_id: str | None
    started: int | None
    ended: int | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    started_seq: int | None = None
    ended_seq: int | None = None

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from the agent's start to its finish, once it finished."""
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started


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

    @property
    def base_id(self) -> str:
        """The plan id without its version (``refund-42`` for ``refund-42@v2``)."""
        return self.plan_id.split("@", 1)[0]

    @property
    def dispatched(self) -> int:
        """How many of its actions were executed."""
        if self.action_statuses:
            return sum(1 for status in self.action_statuses.values() if status == "executed")
        return len(self.actions) if self.status == "executed" else 0

    @property
    def outcome(self) -> str:
        """What became of the plan, in words: ``3 actions dispatched``, ``plan rejected``…"""
        if self.status == "executed":
            return plural(self.dispatched, "action") + " dispatched"
        if self.status in ("rejected", "failed"):
            return f"plan {self.status}"
        if self.status == "executing":
            return f"executing, {self.dispatched} of {len(self.actions)} dispatched"
        return "plan " + self.status.replace("_", " ")


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
    thread_id: str | None = None
    prompt: str | None = None
    outcome: str | None = None
    feedback: str | None = None
    partial: Any = None
    decided_by: str | None = None
    result: str | None = None
    previous: Any = None
    parent_id: str | None = None
    asked_at: int | None = None
    decided_at: int | None = None
    asked_seq: int | None = None
    decided_seq: int | None = None

    @property
    def actions(self) -> list[dict[str, Any]]:
        """A plan approval's actions (empty for tool approvals)."""
        actions = self.payload.get("actions") if isinstance(self.payload, dict) else None
        return [a for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []

    @property
    def base_id(self) -> str:
        """The plan id without its version, for plan approvals; else the target."""
        plan_id = self.payload.get("planId") if isinstance(self.payload, dict) else None
        return str(plan_id or self.target).split("@", 1)[0]

    @property
    def promise(self) -> str:
        """What approving does, said first: ``executor dispatches 3 restock actions``."""
        who = self.agent or "the agent"
        if self.kind != "plan":
            return f"{who} runs tool {self.target}"
        kinds: dict[str, int] = {}
        for action in self.actions:
            kind = str(action.get("kind", "?"))
            kinds[kind] = kinds.get(kind, 0) + 1
        if len(kinds) == 1:
            [(kind, count)] = kinds.items()
            return f"{who} dispatches {plural(count, kind + ' action')}"
        detail = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in kinds.items())
        return f"{who} dispatches {plural(len(self.actions), 'action')} ({detail})"

    @property
    def title(self) -> str:
        """``Approval needed``, then ``Approved`` / ``Rejected`` / ``Sent back for revision``."""
        return {None: "Approval needed", "approve": "Approved", "reject": "Rejected",
                "revise": "Sent back for revision"}.get(self.outcome, str(self.outcome))

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
            thread_id=request.get("threadId"),
            prompt=request.get("prompt"),
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
        self.steps: dict[str, AgentStep] = {}  # parentId ("" for the entry agent) -> step
        self.started_at: int | None = None
        self.ended_at: int | None = None
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
    def text_or_streamed(self) -> str:
        """The final text; the streamed text when the run ended without one (Stop)."""
        return self.text if self.text else self.streamed_text

    @property
    def elapsed_ms(self) -> int | None:
        """Milliseconds from the first event to the last one seen."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    @property
    def outcome(self) -> str:
        """What the run did, beyond its status: ``plan rejected``, ``3 actions dispatched``.

        Judged on the latest version of each plan the run stored; empty when it
        stored none.
        """
        latest: dict[str, PlanInfo] = {}
        for plan in self.plans.values():
            latest[plan.base_id] = plan
        if not latest:
            return ""
        return " · ".join(plan.outcome for plan in latest.values())

    @property
    def headline(self) -> str:
        """``completed · plan rejected``: the status, then the outcome when there is one."""
        return " · ".join(part for part in (self.display_status, self.outcome) if part)

    def approval_result(self, info: ApprovalInfo) -> str:
        """What happened after a decision: the plan's fate, or the tool call's."""
        if info.outcome is None:
            return ""
        if info.outcome == "revise":
            newer = [p for p in self.plans.values() if p.base_id == info.base_id
                     and p.plan_id != (info.payload or {}).get("planId")]
            return f"revised as {newer[-1].plan_id}" if newer else "sent back to the planner"
        if info.kind == "plan":
            plan = self.plans.get((info.payload or {}).get("planId", ""))
            if plan is not None:
                return plan.outcome
        if info.outcome == "reject":
            return "not executed"
        call = next((c for c in self.tools.values() if c.tool == info.target), None)
        return f"tool {call.state}" if call is not None else ""

    @property
    def display_status(self) -> str:
        """``status``, or ``waiting for approval`` while an approval is open."""
        if self.status not in TERMINAL and self.pending:
            return "waiting for approval"
        return self.status

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the state. Unknown event types are ignored."""
        kind = event.get("type")
        ts = event.get("ts") if isinstance(event.get("ts"), int | float) else None
        seq = event.get("seq") if isinstance(event.get("seq"), int) else None
        if ts is not None:
            self.started_at = ts if self.started_at is None else self.started_at
            self.ended_at = ts
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
        elif kind == "agent-start":
            self.steps[event.get("parentId") or ""] = AgentStep(
                agent or "?", event.get("role"), event.get("parentId"), ts, started_seq=seq)
        elif kind == "agent-finish":
            step = self.steps.get(event.get("parentId") or "")
            if step is not None:
                step.ended, step.ended_seq = ts, seq
                step.usage = dict(event.get("usage") or {})
        elif kind == "text-delta":
            if event.get("parentId") is None:
                self._root_text.append(event.get("delta", ""))
        elif kind == "tool-call":
            call_id = event.get("callId") or f"#{len(self.tools)}"
            self.tools[call_id] = ToolCallInfo(
                call_id, event.get("tool", "?"), agent, event.get("parentId"), event.get("args"),
                started=ts, started_seq=seq,
            )
        elif kind == "tool-result":
            call = self.tools.get(event.get("callId", ""))
            if call is not None:
                call.done = True
                call.ended, call.ended_seq = ts, seq
                call.result = event.get("result")
                call.error = event.get("error")
                call.cancelled = call.error is not None and "cancel" in _text(call.error).lower()
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
            info.thread_id = info.thread_id or self.thread_id
            info.prompt = self.prompt
            info.parent_id, info.asked_at, info.asked_seq = event.get("parentId"), ts, seq
            earlier = [a for a in self.approvals.values()
                       if a.kind == "plan" and a.base_id == info.base_id and a.outcome == "revise"]
            if info.kind == "plan" and earlier:
                info.previous = earlier[-1].payload
            self.approvals[info.approval_id] = info
        elif kind == "approval-decision":
            info = self.approvals.get(event.get("approvalId", ""))
            if info is not None:
                info.outcome = event.get("outcome")
                info.feedback = event.get("feedback")
                info.partial = event.get("partial")
                info.decided_at, info.decided_seq = ts, seq
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
            for call in self.tools.values():
                if not call.done and self.status == "cancelled":
                    call.cancelled = True
            self.text = event.get("text")
            self.trace_id = event.get("traceId")
            if event.get("usage"):
                self.usage = dict(event["usage"])
                self._final_usage = True

    def timeline(self) -> list[dict[str, Any]]:
        """Agents, tool calls and approval waits as rows with start/end time and seq,
        nesting depth, status, and (agents) tokens and cost; in start order."""
        rows: list[dict[str, Any]] = []
        depth: dict[str, int] = {}  # parentId key of an agent step -> its depth
        for key in self.steps:
            parent = self.tools.get(key)
            level = 0 if parent is None else depth.get(parent.parent_id or "", 0) + 1
            depth[key] = level
        for key, step in self.steps.items():
            rows.append({"kind": "agent", "name": step.agent, "depth": depth[key],
                         "start": step.started, "end": step.ended,
                         "startSeq": step.started_seq, "endSeq": step.ended_seq,
                         "status": "done" if step.ended is not None else self._open_status(),
                         "usage": step.usage})
        for call in self.tools.values():
            rows.append({"kind": "tool", "name": call.tool, "depth":
                         depth.get(call.parent_id or "", 0) + 1, "start": call.started,
                         "end": call.ended, "startSeq": call.started_seq,
                         "endSeq": call.ended_seq, "status": call.state, "usage": {}})
        for info in self.approvals.values():
            rows.append({"kind": "approval", "name": f"approval {info.label}",
                         "depth": depth.get(info.parent_id or "", 0) + 1,
                         "start": info.asked_at, "end": info.decided_at,
                         "startSeq": info.asked_seq, "endSeq": info.decided_seq,
                         "status": info.outcome or self._open_status(), "usage": {}})
        return sorted(rows, key=lambda r: (r["startSeq"] is None, r["startSeq"] or 0))

    def _open_status(self) -> str:
        return "not finished" if self.status in TERMINAL else "running"

    def fail(self, message: str) -> None:
        """Record a failure of the consumer itself (the stream raised)."""
        self.errors.append(message)
        self.status = "failed"

    def summary(self) -> str:
        """A deterministic, human-readable text summary (no ids, no times)."""
        lines = [f"status: {self.status}"]
        if self.outcome:
            lines.append(f"outcome: {self.outcome}")
        if self.prompt is not None:
            lines.append(f"prompt: {_short(self.prompt, 200)}")
        if self.agents:
            lines.append("agents: " + ", ".join(self.agents))
        lines.append(f"tool calls ({len(self.tools)}):")
        for call in self.tools.values():
            outcome = {"running": "pending", "done": "ok"}.get(call.state, call.state)
            if call.state == "error":
                outcome = f"error: {_short(_text(call.error), 80)}"
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
        lines.append(f"text: {self.text_or_streamed}")
        if self.usage:
            lines.append(
                f"usage: {self.usage.get('inputTokens', 0)} input / "
                f"{self.usage.get('outputTokens', 0)} output tokens"
            )
        return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    """``1 action``, ``3 actions``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


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
