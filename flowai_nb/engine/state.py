"""``RunState``: the one fold of a run's events into what every surface shows (SPEC §5.1).

Feed it events in order (wire dicts or :mod:`~flowai_nb.engine.events` models) with
:meth:`RunState.apply`; read the run's status, agent tree, tool calls with their
durations, plans and action statuses, pending approvals, usage and cost (a running
total) and timings. Traces, evals, the widgets (Python side and static forms),
MCP progress and Studio all use this fold, so they agree. It imports nothing
heavy and touches no store or event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._json import dumps
from .events import TERMINAL_STATUSES, is_event
from .partial import Selection, select_actions

__all__ = ["RunState", "AgentNode", "ToolCallState", "PlanState", "ApprovalState"]


@dataclass
class AgentNode:
    """One agent invocation: a node of the run's agent tree.

    ``span_id`` is ``agent:<name>:<seq of its agent-start>``; ``parent_call`` is the
    ``call_agent`` (or ``execute_plan`` revision) call that started it.
    """

    span_id: str
    agent: str
    role: str | None
    depth: int
    parent_call: str | None
    start: int
    end: int | None = None
    status: str = "running"
    text: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    error: Any = None
    calls: list[str] = field(default_factory=list)
    """Ids of the tool calls this invocation made, in order."""

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from start to end (``None`` while running)."""
        return None if self.end is None else self.end - self.start


@dataclass
class ToolCallState:
    """One tool call and, once it returned, its result or error."""

    call_id: str
    tool: str
    agent: str | None
    parent_id: str | None
    args: Any
    start: int
    span_parent: str | None = None
    end: int | None = None
    status: str = "running"
    """``running``, ``ok``, ``error``, or the run's end status if it never returned."""
    result: Any = None
    error: Any = None
    glimpse: Any = None

    @property
    def done(self) -> bool:
        """Whether the call has its ``tool-result``."""
        return self.status != "running"

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from call to result (``None`` while running)."""
        return None if self.end is None else self.end - self.start


@dataclass
class PlanState:
    """A stored plan and the live status of each of its actions."""

    plan_id: str
    plan: str
    status: str
    actions: list[dict[str, Any]]
    action_statuses: dict[int, str] = field(default_factory=dict)
    edited: dict[int, Any] = field(default_factory=dict)
    """Index -> the payload the plan proposed, for actions an approval edited (``actions``
    then holds the payload dispatched); a deselected action's status is ``deselected``."""

    def action_status(self, index: int) -> str:
        """An action's own status, else the one it inherits from the plan."""
        return self.action_statuses.get(index) or self.status


@dataclass
class ApprovalState:
    """An approval the run asked for and, once given, its decision."""

    approval_id: str
    kind: str
    target: str
    payload: Any
    agent: str | None = None
    run_id: str | None = None
    resume_token: str | None = None
    outcome: str | None = None
    feedback: Any = None
    partial: Any = None
    requested_at: int | None = None
    decided_at: int | None = None

    @property
    def edits(self) -> list[dict[str, Any]]:
        """Plan actions the decision edited: ``{"index", "kind", "before", "after"}`` each."""
        selection = self._selection()
        return selection.edited if selection is not None else []

    @property
    def deselected(self) -> list[int]:
        """Indexes of the plan actions the decision left out."""
        selection = self._selection()
        return selection.deselected if selection is not None else []

    def _selection(self) -> Selection | None:
        if self.kind != "plan" or self.outcome != "approve" or self.partial is None \
                or not isinstance(self.payload, dict):
            return None
        try:  # recorded decisions were checked when given; this only reads them
            return select_actions(self.payload, self.partial, validate=False)
        except ValueError:
            return None

    @property
    def label(self) -> str:
        """What is asked about: the plan's spec name for plans, else the target."""
        if self.kind == "plan" and isinstance(self.payload, dict) and self.payload.get("plan"):
            return str(self.payload["plan"])
        return str(self.target)

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> ApprovalState:
        """Build from an ``approval-required`` event or a ``pending_approvals()`` entry.

        Raises:
            ValueError: ``request`` has no ``approvalId``.
        """
        try:
            approval_id = request["approvalId"]
        except (KeyError, TypeError):
            raise ValueError(
                f"an approval request needs an 'approvalId' key, got {request!r}") from None
        return cls(approval_id=approval_id, kind=request.get("kind", "tool"),
                   target=request.get("target", ""), payload=request.get("payload"),
                   agent=request.get("agent"), run_id=request.get("runId"),
                   resume_token=request.get("resumeToken"), requested_at=request.get("ts"))


_USAGE_KEYS = ("inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "costUsd")


class RunState:
    """What a run looks like so far, folded from its events in order.

    Attributes:
        status: ``starting`` (no event yet), ``running``, ``paused`` (an approval
            is open), then ``completed``, ``failed`` or ``cancelled``.
        agents: agent invocations by span id, in start order (:attr:`roots` and
            :meth:`children` give the tree).
        tools: tool calls by call id, in call order.
        plans / approvals: by id.
        usage: running total of the ``usage`` events (``costUsd`` included when
            known); ``run-finish`` carries the same total.
        started_at / ended_at: ``ts`` of ``run-start`` and ``run-finish``.
        last_seq: the highest ``seq`` seen; ``gaps`` lists missing seqs.
    """

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.thread_id: str | None = None
        self.prompt: str | None = None
        self.entry_agent: str | None = None
        self.status = "starting"
        self.text: str | None = None
        self.trace_id: str | None = None
        self.agents: dict[str, AgentNode] = {}
        self.tools: dict[str, ToolCallState] = {}
        self.plans: dict[str, PlanState] = {}
        self.approvals: dict[str, ApprovalState] = {}
        self.errors: list[dict[str, Any]] = []
        self.usage: dict[str, Any] = {}
        self.started_at: int | None = None
        self.ended_at: int | None = None
        self.last_ts: int | None = None
        self.last_seq = -1
        self.gaps: list[int] = []
        self.event_count = 0
        self._order: list[str] = []  # span ids in event order
        self._open: dict[tuple[str, str | None], list[str]] = {}  # (agent, parentId) -> spans
        self._root_text: list[str] = []
        self._texts: dict[str, list[str]] = {}

    # -- derived views -----------------------------------------------------------
    @property
    def streamed_text(self) -> str:
        """The entry agent's text deltas joined, as they streamed."""
        return "".join(self._root_text)

    @property
    def pending(self) -> list[ApprovalState]:
        """Approvals asked for and not decided yet."""
        return [a for a in self.approvals.values() if a.outcome is None]

    @property
    def display_status(self) -> str:
        """``status``, or ``waiting for approval`` while an approval is open."""
        if self.status not in TERMINAL_STATUSES and self.pending:
            return "waiting for approval"
        return self.status

    @property
    def finished(self) -> bool:
        """Whether ``run-finish`` was seen."""
        return self.status in TERMINAL_STATUSES

    @property
    def duration_ms(self) -> int | None:
        """Milliseconds from ``run-start`` to ``run-finish`` (or to the last event)."""
        end = self.ended_at if self.ended_at is not None else self.last_ts
        return None if self.started_at is None or end is None else end - self.started_at

    @property
    def roots(self) -> list[AgentNode]:
        """Agent invocations not started by a tool call (the entry agent)."""
        return [a for a in self.agents.values() if a.parent_call is None]

    def children(self, node: AgentNode) -> list[AgentNode]:
        """Agent invocations started by the tool calls of ``node``."""
        calls = set(node.calls)
        return [a for a in self.agents.values() if a.parent_call in calls]

    def agent_text(self, span_id: str) -> str:
        """The text an agent invocation streamed so far."""
        parts = self._texts.get(span_id)
        return "".join(parts) if parts else ""

    # -- the fold -------------------------------------------------------------------
    def apply(self, event: Any) -> RunState:
        """Fold one event (wire dict or model) into the state; returns ``self``.

        Unknown event types only advance ``seq`` bookkeeping.
        """
        if is_event(event):
            event = event.to_wire()
        kind = event.get("type")
        seq = event.get("seq")
        self.event_count += 1
        if isinstance(seq, int):
            if seq > self.last_seq + 1 and self.last_seq >= 0:
                self.gaps.extend(range(self.last_seq + 1, seq))
            if seq > self.last_seq:
                self.last_seq = seq
        ts = event.get("ts")
        if ts is not None:
            self.last_ts = ts
        if kind == "text-delta":
            span = self._span_of(event)
            if span is not None:
                self._texts.setdefault(span, []).append(event.get("delta", ""))
            if event.get("parentId") is None:
                self._root_text.append(event.get("delta", ""))
            return self
        if kind == "reasoning-delta":
            return self
        self.run_id = self.run_id or event.get("runId")
        self.thread_id = self.thread_id or event.get("threadId")
        if self.status == "starting":
            self.status = "running"
        handler = _HANDLERS.get(kind)  # type: ignore[arg-type]
        if handler is not None:
            handler(self, event)
        return self

    @classmethod
    def from_events(cls, events: Any) -> RunState:
        """A state folded from an iterable of events."""
        state = cls()
        for event in events:
            state.apply(event)
        return state

    def _span_of(self, event: dict[str, Any]) -> str | None:
        stack = self._open.get((event.get("agent"), event.get("parentId")))  # type: ignore[arg-type]
        return stack[-1] if stack else None

    def _run_start(self, e: dict[str, Any]) -> None:
        self.prompt = e.get("prompt")
        self.entry_agent = e.get("entryAgent") or e.get("agent")
        if self.started_at is None:
            self.started_at = e.get("ts")

    def _agent_start(self, e: dict[str, Any]) -> None:
        span_id = f"agent:{e.get('agent')}:{e.get('seq')}"
        node = AgentNode(span_id, e.get("agent", "?"), e.get("role"), e.get("depth", 0),
                         e.get("parentId"), e.get("ts", 0))
        self.agents[span_id] = node
        self._order.append(span_id)
        self._open.setdefault((node.agent, node.parent_call), []).append(span_id)  # type: ignore[arg-type]

    def _agent_finish(self, e: dict[str, Any]) -> None:
        stack = self._open.get((e.get("agent"), e.get("parentId")))  # type: ignore[arg-type]
        if not stack:
            return
        node = self.agents[stack.pop()]
        node.end = e.get("ts")
        node.text = e.get("text") or self.agent_text(node.span_id)
        node.usage = dict(e.get("usage") or {})
        node.error = e.get("error")
        node.status = "error" if node.error else "ok"

    def _tool_call(self, e: dict[str, Any]) -> None:
        call_id = e.get("callId") or f"#{len(self.tools)}"
        span = self._span_of(e)
        self.tools[call_id] = ToolCallState(call_id, e.get("tool", "?"), e.get("agent"),
                                            e.get("parentId"), e.get("args"), e.get("ts", 0),
                                            span_parent=span)
        self._order.append(f"tool:{call_id}")
        if span is not None:
            self.agents[span].calls.append(call_id)

    def _tool_result(self, e: dict[str, Any]) -> None:
        call = self.tools.get(e.get("callId", ""))
        if call is None:
            return
        call.end = e.get("ts")
        call.result = e.get("result")
        call.error = e.get("error")
        call.glimpse = e.get("glimpse")
        call.status = "error" if "error" in e else "ok"

    def _plan_stored(self, e: dict[str, Any]) -> None:
        plan_id = e.get("planId", "")
        self.plans[plan_id] = PlanState(plan_id, e.get("plan", ""), e.get("status", "draft"),
                                        list(e.get("actions") or []))

    def _plan_status(self, e: dict[str, Any]) -> None:
        plan = self.plans.get(e.get("planId", ""))
        if plan is None:  # a plan stored by an earlier run
            plan = self.plans[e.get("planId", "")] = PlanState(e.get("planId", ""), "", "", [])
        plan.status = e.get("status", plan.status)
        if plan.status == "draft":
            plan.action_statuses.clear()

    def _action_status(self, e: dict[str, Any]) -> None:
        plan = self.plans.get(e.get("planId", ""))
        if plan is not None and isinstance(e.get("index"), int):
            plan.action_statuses[e["index"]] = e.get("status", "")

    def _approval_required(self, e: dict[str, Any]) -> None:
        info = ApprovalState.from_request(e)
        self.approvals[info.approval_id] = info
        if self.status == "running":
            self.status = "paused"

    def _approval_decision(self, e: dict[str, Any]) -> None:
        info = self.approvals.get(e.get("approvalId", ""))
        if info is not None:
            info.outcome = e.get("outcome")
            info.feedback = e.get("feedback")
            info.partial = e.get("partial")
            info.decided_at = e.get("ts")
            self._apply_partial(info)
        if self.status == "paused" and not self.pending:
            self.status = "running"

    def _apply_partial(self, info: ApprovalState) -> None:
        """A plan approved with edits or deselections: its actions as they will be dispatched."""
        selection = info._selection()
        plan = self.plans.get(str(info.payload.get("planId"))) if selection is not None else None
        if selection is None or plan is None:
            return
        actions = [dict(a) for a in plan.actions or info.payload.get("actions") or []]
        for edit in selection.edited:
            if edit["index"] < len(actions):
                plan.edited[edit["index"]] = edit["before"]
                actions[edit["index"]]["payload"] = edit["after"]
        plan.actions = actions
        for index in selection.deselected:
            plan.action_statuses[index] = "deselected"

    def _usage(self, e: dict[str, Any]) -> None:
        for key in _USAGE_KEYS:
            value = e.get(key)
            if value is not None:
                total = self.usage.get(key, 0) + value
                self.usage[key] = round(total, 10) if key == "costUsd" else total

    def _error(self, e: dict[str, Any]) -> None:
        self.errors.append({"message": str(e.get("message", "")), "where": e.get("where"),
                            "agent": e.get("agent"), "seq": e.get("seq")})

    def _run_finish(self, e: dict[str, Any]) -> None:
        self.status = e.get("status", "completed")
        self.text = e.get("text")
        self.trace_id = e.get("traceId")
        self.ended_at = e.get("ts")
        if e.get("usage"):
            self.usage = dict(e["usage"])
        end_status = "error" if self.status == "failed" else self.status
        for node in self.agents.values():  # what a failure or cancel left open
            if node.end is None:
                node.end, node.status = self.ended_at, end_status
        for call in self.tools.values():
            if call.end is None:
                call.end, call.status = self.ended_at, end_status

    # -- forms ---------------------------------------------------------------------------
    def spans(self) -> list[dict[str, Any]]:
        """Agent and tool spans with parent links, as stored in a trace (SPEC §12).

        A tool span's parent is its agent's span; a sub-agent's span's parent is the
        tool span of the call that started it.
        """
        rows = []
        for span_id in self._order:
            if span_id.startswith("tool:"):
                call = self.tools[span_id[5:]]
                rows.append({"spanId": span_id, "parentId": call.span_parent, "kind": "tool",
                             "name": call.tool, "agent": call.agent, "start": call.start,
                             "end": call.end, "status": call.status})
            else:
                node = self.agents[span_id]
                rows.append({"spanId": span_id, "parentId": f"tool:{node.parent_call}"
                             if node.parent_call else None, "kind": "agent", "name": node.agent,
                             "agent": node.agent, "start": node.start, "end": node.end,
                             "status": node.status})
        return rows

    def summary(self) -> str:
        """A deterministic, human-readable text summary (no ids, no times)."""
        lines = [f"status: {self.status}"]
        if self.prompt is not None:
            lines.append(f"prompt: {_short(self.prompt, 200)}")
        names = list(dict.fromkeys(a.agent for a in self.agents.values()))
        if names:
            lines.append("agents: " + ", ".join(names))
        lines.append(f"tool calls ({len(self.tools)}):")
        for call in self.tools.values():
            outcome = "pending" if not call.done else (
                f"error: {_short(_text(call.error), 80)}" if call.error is not None else "ok")
            lines.append(f"  {call.agent}: {call.tool}({_short(_text(call.args), 80)}) -> "
                         f"{outcome}")
        if self.plans:
            lines.append(f"plans ({len(self.plans)}):")
            for plan in self.plans.values():
                actions = ", ".join(
                    f"{a.get('kind', '?')}{' (edited)' if i in plan.edited else ''}: "
                    f"{plan.action_status(i)}" for i, a in enumerate(plan.actions))
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
            lines.extend(f"  {e['where']}: {e['message']}" if e["where"] else f"  {e['message']}"
                         for e in self.errors)
        text = self.text if self.text is not None else self.streamed_text
        lines.append(f"text: {text}")
        if self.usage:
            line = (f"usage: {self.usage.get('inputTokens', 0)} input / "
                    f"{self.usage.get('outputTokens', 0)} output tokens")
            if self.usage.get("costUsd") is not None:
                line += f", ${self.usage['costUsd']:.6f}"
            lines.append(line)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<RunState run={self.run_id} status={self.display_status} "
                f"agents={len(self.agents)} tools={len(self.tools)} plans={len(self.plans)} "
                f"pending={len(self.pending)} events={self.event_count}>")


_HANDLERS = {
    "run-start": RunState._run_start, "agent-start": RunState._agent_start,
    "agent-finish": RunState._agent_finish, "tool-call": RunState._tool_call,
    "tool-result": RunState._tool_result, "plan-stored": RunState._plan_stored,
    "plan-status": RunState._plan_status, "action-status": RunState._action_status,
    "approval-required": RunState._approval_required,
    "approval-decision": RunState._approval_decision, "usage": RunState._usage,
    "error": RunState._error, "run-finish": RunState._run_finish,
}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return dumps(value, sort_keys=True, compact=False)
    except (TypeError, ValueError):
        return repr(value)


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
