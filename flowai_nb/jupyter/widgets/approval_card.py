"""The approval card: what is asked, and Approve / Reject / Revise buttons."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import traitlets

from .._assets import asset_text
from .._events import ApprovalInfo
from ._base import FlowWidget, esc, frame, kv_html

OUTCOMES = ("approve", "reject", "revise")
_TASKS: set[asyncio.Task[Any]] = set()


class ApprovalCard(FlowWidget):
    """One approval request with buttons that answer it.

    A click sends the decision (and the feedback box's text) to the kernel,
    which calls ``runtime.respond_to_approval``; the card then shows the
    decision, or the error if the runtime refused it (for example because
    the approval was already answered elsewhere). Decisions made by a
    headless policy reach the card through the run's ``approval-decision``
    event.

    Args:
        request: an ``approval-required`` event or a ``runtime.pending_approvals()`` entry.
        runtime: the runtime that answers the approval (needed for clicks).
    """

    _esm = asset_text("_common.js", "approval_card.js")

    approval_id = traitlets.Unicode("").tag(sync=True)
    kind = traitlets.Unicode("tool").tag(sync=True)
    target = traitlets.Unicode("").tag(sync=True)
    agent = traitlets.Unicode("").tag(sync=True)
    payload = traitlets.Any(None).tag(sync=True)
    status = traitlets.Unicode("pending").tag(sync=True)  # pending | sending | decided
    outcome = traitlets.Unicode("").tag(sync=True)
    feedback = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, request: dict[str, Any] | ApprovalInfo, runtime: Any = None) -> None:
        info = request if isinstance(request, ApprovalInfo) else ApprovalInfo.from_request(request)
        super().__init__(
            approval_id=info.approval_id, kind=info.kind, target=str(info.target),
            agent=info.agent or "", payload=info.payload,
        )
        self.runtime = runtime
        self.update(info)
        self.on_msg(self._handle_front_end)

    def update(self, info: ApprovalInfo) -> None:
        """Show the decision recorded for this approval, if any."""
        if info.outcome is not None:
            self._decided(info.outcome, info.feedback)

    async def respond(
        self, outcome: str, feedback: str | None = None, partial: Any = None
    ) -> None:
        """Answer the approval through the runtime, as a click does.

        Raises:
            ValueError: ``outcome`` is not approve, reject or revise.
            RuntimeError: the card has no runtime, or the runtime refused the answer.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        if self.runtime is None:
            raise RuntimeError(
                "this approval card has no runtime to answer through; "
                "create it with ApprovalCard(request, runtime=rt)"
            )
        self.status, self.error = "sending", ""
        try:
            result = self.runtime.respond_to_approval(
                self.approval_id, outcome, feedback=feedback or None, partial=partial
            )
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            with self.hold_sync():  # a decision may have arrived meanwhile (event or other click)
                self.status = "decided" if self.outcome else "pending"
                self.error = f"{type(exc).__name__}: {exc}"
            raise
        self._decided(outcome, feedback)

    def _decided(self, outcome: str, feedback: str | None) -> None:
        with self.hold_sync():
            self.status, self.outcome, self.feedback = "decided", outcome, feedback or ""

    def _handle_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "decision":
            return
        outcome, feedback = content.get("outcome"), content.get("feedback") or None
        if outcome not in OUTCOMES:
            self.error = f"unknown decision {outcome!r}"
            return
        if self.status != "pending":
            return
        self.status = "sending"  # at once, so a second click or handle.respond() skips this card
        task = asyncio.get_running_loop().create_task(self._respond_quietly(outcome, feedback))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)

    async def _respond_quietly(self, outcome: str, feedback: str | None) -> None:
        try:
            await self.respond(outcome, feedback)
        except Exception as exc:  # shown in the card by respond()
            if not self.error:
                self.error = f"{type(exc).__name__}: {exc}"

    def _repr_text(self) -> str:
        decision = self.outcome or self.status
        return f"ApprovalCard(kind={self.kind!r}, target={self.target!r}, decision={decision!r})"

    def _repr_html(self) -> str:
        decision = (
            f"<div><b>decision:</b> {esc(self.outcome)}"
            + (f" — feedback: {esc(self.feedback)}" if self.feedback else "")
            + "</div>"
            if self.outcome
            else "<div><i>waiting for a decision (open in JupyterLab to click)</i></div>"
        )
        title = f"approval needed · {esc(self.kind)} <code>{esc(self.target)}</code>"
        return frame(title, self._asked_html() + decision, "flowai-approval")

    def _asked_html(self) -> str:
        """Plan actions as a numbered table (as the live card shows them); tool args as rows."""
        payload = self.payload if isinstance(self.payload, dict) else {}
        actions = payload.get("actions")
        if self.kind != "plan" or not isinstance(actions, list):
            return kv_html(self.payload)
        rows = "".join(
            f"<tr><td>{i}</td><td><b>{esc(a.get('kind', '?'))}</b></td>"
            f"<td>{kv_html(a.get('payload'))}</td></tr>"
            for i, a in enumerate(actions) if isinstance(a, dict))
        body = {k: v for k, v in (payload.get("body") or {}).items() if k != "actions"}
        return f"<table>{rows}</table>" + (kv_html(body) if body else "")
