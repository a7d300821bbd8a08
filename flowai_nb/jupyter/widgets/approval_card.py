"""The approval card: what approving does, the buttons, then who decided and what happened."""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any

import traitlets

from ..._json import dumps
from ...engine.partial import select_actions
from .._assets import asset_text
from .._events import ApprovalState, approval_promise, approval_title
from ._base import ERROR_STYLE, FlowWidget, esc, frame, kv_html

OUTCOMES = ("approve", "reject", "revise")
_TASKS: set[asyncio.Task[Any]] = set()


class ApprovalCard(FlowWidget):
    """One approval request, outcome first, with buttons that answer it.

    The card says what approving does ("Approve → executor dispatches 3
    restock actions"), lists the plan's actions (numbered from 1; untick one
    to approve the others only, or "Edit" its payload as JSON before
    approving: the API's ``partial``) and, after a revise, what changed since
    the previous version. A click sends the decision (and the feedback box's
    text) to the kernel, which calls ``runtime.respond_to_approval``; an edit
    the plan type refuses shows its error on the card, which stays pending.
    Once decided, the title says so and the card shows who decided (this
    card, code, a headless policy, or someone elsewhere), what happened next
    (executed, N dispatched, failed) and which actions were edited (old → new), each
    edit as recorded: in the plan type's validated form, not as typed.

    Args:
        request: an ``approval-required`` event or a ``runtime.pending_approvals()`` entry.
        runtime: the runtime that answers the approval (needed for clicks).
        policy: the headless approval policy of the run, if any (named when it decided).
        thread_id / prompt: the asking run's thread and prompt, shown on the card
            (a ``pending_approvals()`` entry carries ``threadId``; ``prompt`` may be a key).
        previous: the payload of the plan version this one revises (shows the diff).
    """

    _esm = asset_text("_common.js", "approval_card.js")

    approval_id = traitlets.Unicode("").tag(sync=True)
    kind = traitlets.Unicode("tool").tag(sync=True)
    target = traitlets.Unicode("").tag(sync=True)
    agent = traitlets.Unicode("").tag(sync=True)
    payload = traitlets.Any(None).tag(sync=True)
    previous = traitlets.Any(None, help="the payload this one revises, if any").tag(sync=True)
    promise = traitlets.Unicode("", help="what approving does").tag(sync=True)
    context = traitlets.Dict({}, help="{runId, threadId, prompt} of the asking run").tag(sync=True)
    status = traitlets.Unicode("pending").tag(sync=True)  # pending | sending | decided
    outcome = traitlets.Unicode("").tag(sync=True)
    feedback = traitlets.Unicode("").tag(sync=True)
    partial = traitlets.Any(None).tag(sync=True)
    decided_by = traitlets.Unicode("", help="who or what decided").tag(sync=True)
    result = traitlets.Unicode("", help="what happened after the decision").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, request: dict[str, Any] | ApprovalState, runtime: Any = None,
                 policy: Any = None, *, thread_id: str | None = None,
                 prompt: str | None = None, previous: Any = None) -> None:
        if isinstance(request, ApprovalState):
            info = request
        else:
            info = ApprovalState.from_request(request)
            thread_id = thread_id or request.get("threadId")
            prompt = prompt or request.get("prompt")
        context = {k: v for k, v in (("runId", info.run_id), ("threadId", thread_id),
                                      ("prompt", prompt)) if v}
        super().__init__(
            approval_id=info.approval_id, kind=info.kind, target=str(info.target),
            agent=info.agent or "", payload=info.payload, previous=previous,
            promise=approval_promise(info), context=context,
        )
        self.runtime = runtime
        self.policy = policy
        self._answered_by: str | None = None  # set when this card (or its respond()) answered
        self.update(info)
        self.on_msg(self._handle_front_end)

    def update(self, info: ApprovalState, result: str | None = None) -> None:
        """Show the decision recorded for this approval and, given, what followed."""
        if info.outcome is not None and not self.outcome:
            self._decided(info.outcome, info.feedback, info.partial)
        if result is not None and result != self.result:
            self.result = result
            self.refresh_static()

    async def respond(
        self, outcome: str, feedback: str | None = None, partial: Any = None, *,
        by: str = "code (respond)",
    ) -> None:
        """Answer the approval through the runtime, as a click does.

        Args:
            partial: for a plan, ``{"actions": [entries]}`` approves only those actions;
                an entry is an index or ``{"index": i, "payload": {...}}`` (an edited payload).

        Raises:
            ValueError: ``outcome`` is not approve, reject or revise (or ``partial`` is invalid).
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
            decision = self.runtime.respond_to_approval(
                self.approval_id, outcome, feedback=feedback or None, partial=partial
            )
            if inspect.isawaitable(decision):
                decision = await decision
        except Exception as exc:
            with self.hold_sync():  # a decision may have arrived meanwhile (event or other click)
                self.status = "decided" if self.outcome else "pending"
                self.error = f"{type(exc).__name__}: {exc}"
            raise
        self._answered_by = by
        if isinstance(decision, dict) and "partial" in decision:
            partial = decision["partial"]  # as recorded: edits in the plan type's form
        self._decided(outcome, feedback, partial)

    def _decided(self, outcome: str, feedback: str | None, partial: Any = None) -> None:
        with self.hold_sync():
            self.status, self.outcome, self.feedback = "decided", outcome, feedback or ""
            self.partial = partial
            self.decided_by = self._answered_by or self._other_decider()
        self.refresh_static()

    def _other_decider(self) -> str:
        if self.policy is not None and self.policy != []:
            return f"policy ({_policy_name(self.policy)})"
        env = os.environ.get("FLOWAI_NB_APPROVAL")
        if env and self.policy is None:
            return f"policy (FLOWAI_NB_APPROVAL={env})"
        return "elsewhere (code, another kernel or process)"

    def _handle_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "decision":
            return
        outcome, feedback = content.get("outcome"), content.get("feedback") or None
        if outcome not in OUTCOMES:
            self.error = f"unknown decision {outcome!r}"
            return
        partial = content.get("partial") if outcome == "approve" else None
        if self.status != "pending":
            return
        self.status = "sending"  # at once, so a second click or handle.respond() skips this card
        task = asyncio.get_running_loop().create_task(
            self._respond_quietly(outcome, feedback, partial))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)

    async def _respond_quietly(self, outcome: str, feedback: str | None, partial: Any) -> None:
        try:
            await self.respond(outcome, feedback, partial, by="you (a click on this card)")
        except Exception as exc:  # shown in the card by respond()
            if not self.error:
                self.error = f"{type(exc).__name__}: {exc}"

    # -- static forms ------------------------------------------------------------------

    @property
    def title(self) -> str:
        """``Approval needed``, ``Approved``, ``Rejected`` or ``Sent back for revision``."""
        return approval_title(self.outcome)

    def _repr_text(self) -> str:
        decision = self.outcome or self.status
        return f"ApprovalCard(kind={self.kind!r}, target={self.target!r}, decision={decision!r})"

    def _repr_html(self) -> str:
        if self.outcome:
            lines = [f"<b>decision:</b> {esc(self.outcome)}"]
            if self.feedback:
                lines.append(f"<b>feedback:</b> {esc(self.feedback)}")
            if self.decided_by:
                lines.append(f"<b>decided by:</b> {esc(self.decided_by)}")
            if self.result:
                lines.append(f"<b>what happened:</b> {esc(self.result)}")
            decision = "<div>" + "<br>".join(lines) + "</div>"
        else:
            decision = ("<div><b>Approve →</b> " + esc(self.promise) + "</div>"
                        "<div><i>waiting for a decision (open in JupyterLab to click)</i></div>")
        context = ""
        if self.context:
            context = "<div>" + " · ".join(
                f"{esc(k)} <code>{esc(v)}</code>" for k, v in self.context.items()) + "</div>"
        error = f"<div style='{ERROR_STYLE}'>{esc(self.error)}</div>" if self.error else ""
        title = f"{esc(self.title)} · {esc(self.kind)} <code>{esc(_label(self))}</code>"
        return frame(title, context + decision + self._asked_html() + error, "flowai-approval")

    def _asked_html(self) -> str:
        """Plan actions as a table numbered from 1 (as the live card shows them)."""
        payload = self.payload if isinstance(self.payload, dict) else {}
        actions = payload.get("actions")
        if self.kind != "plan" or not isinstance(actions, list):
            return kv_html(self.payload)
        selection = None
        if self.outcome == "approve" and self.partial is not None:
            try:
                selection = select_actions(payload, self.partial, validate=False)
            except ValueError:
                pass
        edited = {e["index"]: e for e in selection.edited} if selection else {}
        left_out = set(selection.deselected) if selection else set()

        def fate(i: int) -> str:
            if selection is None:
                return ""
            what = "left out" if i in left_out else (
                "approved, edited" if i in edited else "approved")
            return f"<td>{what}</td>"

        def shown(i: int, action: dict[str, Any]) -> str:
            if i not in edited:
                return kv_html(action.get("payload"))
            before, after = edited[i]["before"] or {}, edited[i]["after"] or {}
            changes = "<br>".join(
                f"{esc(k)}: <s>{esc(_shown(before, k))}</s> → <b>{esc(_shown(after, k))}</b>"
                for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k))
            return kv_html(after) + f"<div><i>edited:</i> {changes}</div>"

        rows = "".join(
            f"<tr><td>{i + 1}</td><td><b>{esc(a.get('kind', '?'))}</b></td>"
            f"<td>{shown(i, a)}</td>{fate(i)}</tr>"
            for i, a in enumerate(actions) if isinstance(a, dict))
        body = {k: v for k, v in (payload.get("body") or {}).items() if k != "actions"}
        return f"<table>{rows}</table>" + (kv_html(body) if body else "")


def _label(card: ApprovalCard) -> str:
    if card.kind == "plan" and isinstance(card.payload, dict) and card.payload.get("planId"):
        return str(card.payload["planId"])
    return card.target


def _shown(payload: dict[str, Any], key: str) -> str:
    return dumps(payload[key]) if key in payload else "—"


def _policy_name(policy: Any) -> str:
    if isinstance(policy, str):
        return policy
    if isinstance(policy, list | tuple):
        return "scripted list"
    return getattr(policy, "__name__", type(policy).__name__)
