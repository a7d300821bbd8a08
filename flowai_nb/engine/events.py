"""The run events (SPEC §5): one frozen, typed model per event ``type``.

Every event the engine emits is built from one of these classes and delivered
in its wire form, :meth:`to_wire`, a JSON-ready dict with ``type``, ``runId``,
``threadId``, ``seq``, ``ts``, ``agent`` (``parentId`` for sub-agent events) and
the type's own keys. :func:`parse_event` turns a wire dict back into its model,
so a surface (or a test fixture) can work with either form.

The models are typed named tuples: immutable, cheap enough for hundreds of
thousands of text deltas a second, and comparable by value::

    >>> from flowai_nb.engine.events import TextDelta
    >>> TextDelta("run-1", "t", 3, 0, "talker", "hi").to_wire()["delta"]
    'hi'

Field order is the same in every model: the envelope (``run_id``,
``thread_id``, ``seq``, ``ts``, ``agent``), then the type's own fields, then
``parent_id`` (``None`` for the entry agent's events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "Event", "EVENT_TYPES", "parse_event", "is_event", "ABSENT", "RunStart", "AgentStart",
    "AgentFinish", "TextDelta",
    "ReasoningDelta", "ToolCall", "ToolResult", "PlanStored", "PlanStatus", "ActionStatus",
    "ApprovalRequired", "ApprovalDecision", "UsageEvent", "ErrorEvent", "RunFinish",
    "DELTA_TYPES", "TERMINAL_STATUSES",
]

DELTA_TYPES = frozenset({"text-delta", "reasoning-delta"})
"""Event types that stream text and change no stored state."""

TERMINAL_STATUSES = ("completed", "failed", "cancelled")
"""The ``status`` values of ``run-finish``."""


class _Absent:
    """Marks an optional wire key that is left out (distinct from a ``None`` value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def _envelope(e: Any) -> dict[str, Any]:
    wire = {"type": e.TYPE, "runId": e.run_id, "threadId": e.thread_id, "seq": e.seq,
            "ts": e.ts, "agent": e.agent}
    if e.parent_id is not None:
        wire["parentId"] = e.parent_id
    return wire


def _to_wire(self: Any) -> dict[str, Any]:
    """The event as the JSON-ready dict every surface receives (SPEC §5): the envelope,
    then the type's keys in order (fields left :data:`ABSENT` are left out)."""
    wire = _envelope(self)
    for field, key in self.KEYS:
        value = getattr(self, field)
        if value is not ABSENT:
            wire[key] = value
    return wire


class RunStart(NamedTuple):
    """``run-start``: the run began (``prompt``, ``entryAgent``)."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    prompt: str
    entry_agent: str
    parent_id: str | None = None
    TYPE = "run-start"
    KEYS = (("prompt", "prompt"), ("entry_agent", "entryAgent"))
    to_wire = _to_wire


class AgentStart(NamedTuple):
    """``agent-start``: an agent invocation began (``role``, ``depth``)."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    role: str
    depth: int
    parent_id: str | None = None
    TYPE = "agent-start"
    KEYS = (("role", "role"), ("depth", "depth"))
    to_wire = _to_wire


class AgentFinish(NamedTuple):
    """``agent-finish``: an agent invocation ended (``text``, ``usage``, ``error`` if it failed)."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    role: str
    depth: int
    text: str
    usage: dict[str, Any]
    error: Any = ABSENT
    parent_id: str | None = None
    TYPE = "agent-finish"
    KEYS = (("role", "role"), ("depth", "depth"), ("text", "text"), ("usage", "usage"),
            ("error", "error"))
    to_wire = _to_wire


class TextDelta(NamedTuple):
    """``text-delta``: a piece of an agent's answer."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    delta: str
    parent_id: str | None = None
    TYPE = "text-delta"
    KEYS = (("delta", "delta"),)

    def to_wire(self) -> dict[str, Any]:
        """The event as the JSON-ready dict every surface receives (SPEC §5)."""
        return TextDelta.wire(*self)

    @staticmethod
    def wire(run_id: str, thread_id: str, seq: int, ts: int, agent: str, delta: str,
             parent_id: str | None = None) -> dict[str, Any]:
        """``TextDelta(...).to_wire()`` without building the model: the engine's hot path
        (hundreds of thousands of deltas a second)."""
        if parent_id is None:
            return {"type": "text-delta", "runId": run_id, "threadId": thread_id, "seq": seq,
                    "ts": ts, "agent": agent, "delta": delta}
        return {"type": "text-delta", "runId": run_id, "threadId": thread_id, "seq": seq,
                "ts": ts, "agent": agent, "parentId": parent_id, "delta": delta}


class ReasoningDelta(NamedTuple):
    """``reasoning-delta``: a piece of an agent's visible reasoning."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    delta: str
    parent_id: str | None = None
    TYPE = "reasoning-delta"
    KEYS = (("delta", "delta"),)
    to_wire = _to_wire


class ToolCall(NamedTuple):
    """``tool-call``: the model called a tool (``callId``, ``tool``, ``args``; ``warnings``
    when NaN / infinities in the arguments became null)."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    call_id: str
    tool: str
    args: Any
    warnings: Any = ABSENT
    parent_id: str | None = None
    TYPE = "tool-call"
    KEYS = (("call_id", "callId"), ("tool", "tool"), ("args", "args"), ("warnings", "warnings"))
    to_wire = _to_wire


class ToolResult(NamedTuple):
    """``tool-result``: the call's ``result`` or its ``error`` (never both); ``glimpse`` when
    the result was stored as a reference; ``warnings`` when NaN / infinities became null."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    call_id: str
    tool: str
    result: Any = ABSENT
    error: Any = ABSENT
    glimpse: Any = ABSENT
    warnings: Any = ABSENT
    parent_id: str | None = None
    TYPE = "tool-result"
    KEYS = (("call_id", "callId"), ("tool", "tool"), ("error", "error"), ("result", "result"),
            ("glimpse", "glimpse"), ("warnings", "warnings"))
    to_wire = _to_wire


class PlanStored(NamedTuple):
    """``plan-stored``: a draft plan was stored (``planId``, ``plan``, ``status``, ``actions``)."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    plan_id: str
    plan: str
    status: str
    actions: list[dict[str, Any]]
    parent_id: str | None = None
    TYPE = "plan-stored"
    KEYS = (("plan_id", "planId"), ("plan", "plan"), ("status", "status"),
            ("actions", "actions"))
    to_wire = _to_wire


class PlanStatus(NamedTuple):
    """``plan-status``: a plan moved to ``status``."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    plan_id: str
    status: str
    parent_id: str | None = None
    TYPE = "plan-status"
    KEYS = (("plan_id", "planId"), ("status", "status"))
    to_wire = _to_wire


class ActionStatus(NamedTuple):
    """``action-status``: action ``index`` of a plan moved to ``status``."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    plan_id: str
    index: int
    kind: str
    status: str
    parent_id: str | None = None
    TYPE = "action-status"
    KEYS = (("plan_id", "planId"), ("index", "index"), ("kind", "kind"), ("status", "status"))
    to_wire = _to_wire


class ApprovalRequired(NamedTuple):
    """``approval-required``: a gate closed; the run waits for a decision."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    approval_id: str
    kind: str
    target: str
    payload: Any
    resume_token: str
    parent_id: str | None = None
    TYPE = "approval-required"
    KEYS = (("approval_id", "approvalId"), ("kind", "kind"), ("target", "target"),
            ("payload", "payload"), ("resume_token", "resumeToken"))
    to_wire = _to_wire


class ApprovalDecision(NamedTuple):
    """``approval-decision``: the gate's ``outcome`` (approve, reject, revise)."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    approval_id: str
    outcome: str
    feedback: Any = None
    partial: Any = None
    parent_id: str | None = None
    TYPE = "approval-decision"
    KEYS = (("approval_id", "approvalId"), ("outcome", "outcome"), ("feedback", "feedback"),
            ("partial", "partial"))
    to_wire = _to_wire


class UsageEvent(NamedTuple):
    """``usage``: tokens (and cost, when known) of one model turn."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: Any = ABSENT
    cache_write_tokens: Any = ABSENT
    cost_usd: Any = ABSENT
    parent_id: str | None = None
    TYPE = "usage"
    KEYS = (("input_tokens", "inputTokens"), ("output_tokens", "outputTokens"),
            ("cache_read_tokens", "cacheReadTokens"), ("cache_write_tokens", "cacheWriteTokens"),
            ("cost_usd", "costUsd"))
    to_wire = _to_wire


class ErrorEvent(NamedTuple):
    """``error``: something failed (``message``, ``where``)."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    message: str
    where: str
    parent_id: str | None = None
    TYPE = "error"
    KEYS = (("message", "message"), ("where", "where"))
    to_wire = _to_wire


class RunFinish(NamedTuple):
    """``run-finish``: the last event of every run (``status``, ``text``, ``usage``,
    ``traceId``)."""

    run_id: str
    thread_id: str
    seq: int
    ts: int
    agent: str
    status: str
    text: str
    usage: dict[str, Any]
    trace_id: str
    parent_id: str | None = None
    TYPE = "run-finish"
    KEYS = (("status", "status"), ("text", "text"), ("usage", "usage"), ("trace_id", "traceId"))
    to_wire = _to_wire


Event = (RunStart | AgentStart | AgentFinish | TextDelta | ReasoningDelta | ToolCall | ToolResult
         | PlanStored | PlanStatus | ActionStatus | ApprovalRequired | ApprovalDecision
         | UsageEvent | ErrorEvent | RunFinish)
"""Any run event model."""

EVENT_TYPES: dict[str, type[Any]] = {
    cls.TYPE: cls for cls in (
        RunStart, AgentStart, AgentFinish, TextDelta, ReasoningDelta, ToolCall, ToolResult,
        PlanStored, PlanStatus, ActionStatus, ApprovalRequired, ApprovalDecision, UsageEvent,
        ErrorEvent, RunFinish)
}
"""``{wire type: model class}``."""

_CLASSES = frozenset(EVENT_TYPES.values())


def is_event(value: Any) -> bool:
    """Whether ``value`` is one of the event models (not a wire dict)."""
    return type(value) in _CLASSES

_ENVELOPE = (("run_id", "runId"), ("thread_id", "threadId"), ("seq", "seq"), ("ts", "ts"),
             ("agent", "agent"))


def parse_event(wire: Mapping[str, Any] | Event) -> Event:
    """The typed model of a wire event (a model is returned as is).

    Raises:
        ValueError: unknown ``type``, or a key the type requires is missing.
    """
    if type(wire) in _CLASSES:
        return wire  # type: ignore[return-value]
    if not isinstance(wire, Mapping):
        raise ValueError(f"an event is a mapping with a 'type'; got {type(wire).__name__}")
    cls = EVENT_TYPES.get(wire.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event type {wire.get('type')!r}; expected one of "
                         f"{sorted(EVENT_TYPES)}")
    keys = _ENVELOPE + cls.KEYS
    fields: dict[str, Any] = {}
    for field, key in keys:
        if key in wire:
            fields[field] = wire[key]
    if wire.get("parentId") is not None:
        fields["parent_id"] = wire["parentId"]
    try:
        return cls(**fields)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ValueError(f"malformed {wire.get('type')!r} event {dict(wire)!r}: {exc}") from None
