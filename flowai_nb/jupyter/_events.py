"""What the Jupyter surface shows of a run, read from the engine's one fold.

:class:`~flowai_nb.engine.state.RunState` folds the events (SPEC §5.1); this module
only *reads* it, in words a person scans: a tool call's state (``done``,
``cancelled``…), a plan's outcome (``3 actions dispatched``, ``plan rejected``),
the run's headline (``completed · plan rejected``), what approving does and what
happened after a decision, and the timeline rows of the trace viewer.
:class:`EventLog` keeps an order-preserving, compacted copy of the events
(consecutive text deltas of one agent merged into one event), which is what the
front end receives. Nothing here touches widgets or the event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine.events import TERMINAL_STATUSES as TERMINAL
from ..engine.state import ApprovalState, PlanState, RunState, ToolCallState, _text

__all__ = ["TERMINAL", "EventLog", "RunState", "approval_promise", "approval_result",
           "approval_title", "headline", "plan_outcome", "previous_version", "run_outcome",
           "run_summary", "text_of", "timeline", "tool_state"]

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


def plural(count: int, noun: str) -> str:
    """``1 action``, ``3 actions``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def text_of(state: RunState) -> str:
    """The run's final text; the streamed text when it ended without one (Stop)."""
    return state.text if state.text else state.streamed_text


def tool_state(call: ToolCallState) -> str:
    """``running``, ``done``, ``error``, ``cancelled`` (stopped) or the run's end status."""
    if call.status == "ok":
        return "done"
    if call.status == "error" and "cancel" in _text(call.error).lower():
        return "cancelled"
    return call.status


def _base(plan_id: Any) -> str:
    return str(plan_id or "").split("@", 1)[0]


def plan_dispatched(plan: PlanState) -> int:
    """How many of a plan's actions were executed."""
    if plan.action_statuses:
        return sum(1 for status in plan.action_statuses.values() if status == "executed")
    return len(plan.actions) if plan.status == "executed" else 0


def plan_outcome(plan: PlanState) -> str:
    """What became of a plan, in words: ``3 actions dispatched``, ``plan rejected``…"""
    if plan.status == "executed":
        return plural(plan_dispatched(plan), "action") + " dispatched"
    if plan.status in ("rejected", "failed"):
        return f"plan {plan.status}"
    if plan.status == "executing":
        return f"executing, {plan_dispatched(plan)} of {len(plan.actions)} dispatched"
    return "plan " + plan.status.replace("_", " ")


def run_outcome(state: RunState) -> str:
    """What the run did beyond its status, judged on the latest version of each plan it
    stored: ``plan rejected``, ``3 actions dispatched``; empty when it stored none."""
    latest: dict[str, PlanState] = {}
    for plan in state.plans.values():
        if plan.actions or plan.plan:  # not a plan only seen through a status change
            latest[_base(plan.plan_id)] = plan
    return " · ".join(plan_outcome(plan) for plan in latest.values())


def headline(state: RunState) -> str:
    """``completed · plan rejected``: the status, then the outcome when there is one."""
    return " · ".join(part for part in (state.display_status, run_outcome(state)) if part)


def run_summary(state: RunState, consumer_errors: Sequence[str] = ()) -> str:
    """The fold's deterministic summary, with the run's outcome under its status and the
    consumer's own failures (a stream that raised) before the text."""
    lines = state.summary().split("\n")
    outcome = run_outcome(state)
    if outcome:
        lines.insert(1, f"outcome: {outcome}")
    if consumer_errors:
        at = next(i for i, line in enumerate(lines) if line.startswith("text: "))
        lines[at:at] = [f"consumer errors ({len(consumer_errors)}):",
                        *(f"  {e}" for e in consumer_errors)]
    return "\n".join(lines)


def _actions(approval: ApprovalState) -> list[dict[str, Any]]:
    payload = approval.payload if isinstance(approval.payload, dict) else {}
    actions = payload.get("actions")
    return [a for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []


def _plan_id(approval: ApprovalState) -> str:
    payload = approval.payload if isinstance(approval.payload, dict) else {}
    return str(payload.get("planId") or approval.target)


def approval_promise(approval: ApprovalState) -> str:
    """What approving does, said first: ``executor dispatches 3 restock actions``."""
    who = approval.agent or "the agent"
    if approval.kind != "plan":
        return f"{who} runs tool {approval.target}"
    kinds: dict[str, int] = {}
    for action in _actions(approval):
        kind = str(action.get("kind", "?"))
        kinds[kind] = kinds.get(kind, 0) + 1
    if len(kinds) == 1:
        [(kind, count)] = kinds.items()
        return f"{who} dispatches {plural(count, kind + ' action')}"
    detail = ", ".join(f"{k} ×{n}" if n > 1 else k for k, n in kinds.items())
    return f"{who} dispatches {plural(len(_actions(approval)), 'action')} ({detail})"


def approval_title(outcome: str | None) -> str:
    """``Approval needed``, then ``Approved`` / ``Rejected`` / ``Sent back for revision``."""
    return {None: "Approval needed", "": "Approval needed", "approve": "Approved",
            "reject": "Rejected", "revise": "Sent back for revision"}.get(outcome, str(outcome))


def approval_result(state: RunState, approval: ApprovalState) -> str:
    """What happened after a decision: the plan's fate, or the tool call's."""
    if approval.outcome is None:
        return ""
    plan_id = _plan_id(approval)
    if approval.outcome == "revise":
        newer = [p.plan_id for p in state.plans.values()
                 if _base(p.plan_id) == _base(plan_id) and p.plan_id != plan_id and p.actions]
        return f"revised as {newer[-1]}" if newer else "sent back to the planner"
    if approval.kind == "plan" and plan_id in state.plans:
        return plan_outcome(state.plans[plan_id])
    if approval.outcome == "reject":
        return "not executed"
    call = next((c for c in state.tools.values() if c.tool == approval.target), None)
    return f"tool {tool_state(call)}" if call is not None else ""


def previous_version(state: RunState, approval: ApprovalState) -> Any:
    """The payload of the plan version this approval revises (after a Revise), else None."""
    if approval.kind != "plan":
        return None
    earlier = [a for a in state.approvals.values()
               if a.kind == "plan" and a.outcome == "revise" and a is not approval
               and _base(_plan_id(a)) == _base(_plan_id(approval))]
    return earlier[-1].payload if earlier else None


def timeline(state: RunState) -> list[dict[str, Any]]:
    """Agents, tool calls and approval waits as rows for the trace viewer, nested as they
    ran (each agent, then its calls, each call followed by the agents and approval it
    started): kind, name, depth, start/end time, status, and (agents) tokens and cost.

    ``startRank``/``endRank`` place each row on an axis of event order (a row spans
    everything nested under it), so a run of a few milliseconds can still be drawn.
    """
    rows: list[dict[str, Any]] = []

    def add(kind: str, name: str, depth: int, start: Any, end: Any, status: str,
            usage: dict[str, Any], children: Any) -> None:
        row = {"kind": kind, "name": name, "depth": depth, "start": start, "end": end,
               "status": status, "usage": usage, "startRank": len(rows)}
        rows.append(row)
        children()
        row["endRank"] = len(rows)

    def agent(node: Any, depth: int) -> None:
        add("agent", node.agent, depth, node.start, node.end, node.status, node.usage,
            lambda: [call(state.tools[c], depth + 1) for c in node.calls if c in state.tools])

    def call(tool: ToolCallState, depth: int) -> None:
        def children() -> None:
            for node in state.agents.values():
                if node.parent_call == tool.call_id:
                    agent(node, depth + 1)
            for approval in state.approvals.values():
                if tool.call_id in approval.approval_id:
                    status = approval.outcome or ("not decided" if state.finished
                                                  else "waiting")
                    add("approval", f"approval {approval.label}", depth + 1,
                        approval.requested_at, approval.decided_at, status, {}, lambda: None)
        add("tool", tool.tool, depth, tool.start, tool.end, tool_state(tool), {}, children)

    for root in state.roots:
        agent(root, 0)
    return rows


