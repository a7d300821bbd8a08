"""The plan view: a plan's actions with their live status."""

from __future__ import annotations

from typing import Any

import traitlets

from .._assets import asset_text
from .._events import PlanState
from ._base import FlowWidget, esc, frame


class PlanView(FlowWidget):
    """A stored plan: its actions and the status of each.

    Statuses follow the plan (draft, pending_approval, approved, rejected,
    executing, executed, failed) unless an ``action-status`` event set an
    action's own; an action left out of a partial approval is ``deselected``,
    and one approved with an edited payload shows that payload, marked edited.
    A run handle keeps its plan views up to date; build one yourself with
    ``PlanView(plan="refund", status="draft", actions=[...])``.
    """

    _esm = asset_text("_common.js", "plan_view.js")

    plan_id = traitlets.Unicode("").tag(sync=True)
    plan = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("draft").tag(sync=True)
    actions = traitlets.List([]).tag(sync=True)
    action_statuses = traitlets.List([]).tag(sync=True)
    edited = traitlets.List([], help="indexes of actions an approval edited").tag(sync=True)

    @classmethod
    def from_info(cls, info: PlanState) -> PlanView:
        """A view of a plan tracked by a run's state."""
        view = cls()
        view.update(info)
        return view

    def update(self, info: PlanState) -> None:
        """Copy a tracked plan's current state into the view (one comm message); edited
        actions show their payloads as the approval recorded them (validated)."""
        with self.hold_sync():
            self.plan_id = info.plan_id
            self.plan = info.plan
            self.status = info.status
            self.actions = list(info.actions)
            self.action_statuses = [info.action_status(i) for i in range(len(info.actions))]
            self.edited = sorted(info.edited)

    def _statuses(self) -> list[str]:
        return [
            self.action_statuses[i] if i < len(self.action_statuses) else self.status
            for i in range(len(self.actions))
        ]

    def _repr_text(self) -> str:
        return (
            f"PlanView(plan={self.plan!r}, status={self.status!r}, "
            f"actions={len(self.actions)})"
        )

    def _repr_html(self) -> str:
        rows = "".join(
            f"<tr><td>{i + 1}</td><td><code>{esc(action.get('kind', '?'))}</code></td>"
            f"<td><code>{esc(_payload(action))}</code>{' (edited)' if i in self.edited else ''}"
            f"</td><td>{esc(status)}</td></tr>"
            for i, (action, status) in enumerate(zip(self.actions, self._statuses(), strict=True))
        )
        table = (
            "<table><tr><th>#</th><th>kind</th><th>payload</th><th>status</th></tr>"
            f"{rows}</table>"
        )
        return frame(f"plan {esc(self.plan)} · {esc(self.status)}", table, "flowai-plan")


def _payload(action: Any) -> Any:
    if not isinstance(action, dict):
        return action
    return action.get("payload", {k: v for k, v in action.items() if k != "kind"})
