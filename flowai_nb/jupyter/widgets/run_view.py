"""The run view: streaming text, tool calls, sub-agents, usage and status."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import traitlets

from .._assets import asset_text
from .._events import TERMINAL, EventLog, RunState, headline, run_outcome, text_of, tool_state
from ._base import ERROR_STYLE, FlowWidget, esc, fmt_duration, fmt_usage, frame


class RunView(FlowWidget):
    """A live view of one run, fed event by event.

    Events go to the front end in batches: :meth:`add` only records an event,
    :meth:`flush` sends everything recorded since the last flush as **one**
    custom message ``{"type": "batch", "seq": n, "events": [...]}`` (text
    deltas merged), and :meth:`finish` stores the final state in traits so a
    re-rendered or saved view is complete. A front end that sees a gap in
    ``seq`` (or renders late) asks for a snapshot of everything so far.

    Build a finished view from a list of events with :meth:`from_events`.
    """

    _esm = asset_text("_common.js", "run_view.js")

    status = traitlets.Unicode("starting").tag(sync=True)
    prompt = traitlets.Unicode("").tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    events = traitlets.List([]).tag(sync=True)
    seq = traitlets.Int(-1).tag(sync=True)
    outcome = traitlets.Unicode("", help="what the run did: 'plan rejected', "
                                         "'3 actions dispatched'").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = RunState()
        self.consumer_errors: list[str] = []
        """Failures of the consumer itself (not of the run), for example a stream that raised."""
        self._log = EventLog()
        self._pending = EventLog()
        self._batch = -1
        self._on_cancel: Callable[[], None] | None = None
        self._on_open: Callable[[str], None] | None = None
        self.on_msg(self._handle_front_end)

    @classmethod
    def from_events(cls, events: Iterable[dict[str, Any]]) -> RunView:
        """A finished view of a recorded run (for example a trace's events)."""
        view = cls()
        for event in events:
            view.add(event)
        view.finish()
        return view

    @property
    def messages_sent(self) -> int:
        """How many batches went to the front end so far."""
        return self._batch + 1

    def add(self, event: dict[str, Any]) -> None:
        """Record one event; it reaches the front end at the next :meth:`flush`."""
        self.state.apply(event)
        self._log.add(event)
        self._pending.add(event)

    def flush(self) -> bool:
        """Send the events recorded since the last flush as one batch; False if none."""
        if not len(self._pending):
            return False
        outcome = run_outcome(self.state)
        if self.outcome != outcome:
            self.outcome = outcome
        self._batch += 1
        self.send({"type": "batch", "seq": self._batch, "events": self._pending.events()})
        self._pending.clear()
        return True

    def finish(self, error: str | None = None) -> None:
        """Flush, then store the final status, text and events in traits."""
        if error:  # the consumer itself failed (the stream raised or ended early)
            self.consumer_errors.append(error)
            self.state.status = "failed"
        self.flush()
        state = self.state
        with self.hold_sync():
            self.events = self._log.events()
            self.seq = self._batch
            self.status = state.status if state.status in TERMINAL else "failed"
            self.text = text_of(state)
            self.error = error or ""
            self.prompt = state.prompt or ""
            self.outcome = run_outcome(state)

    def _handle_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "sync":
            self.flush()
            self.send({"type": "snapshot", "seq": self._batch, "events": self._log.events()})
        elif kind == "cancel" and self._on_cancel is not None:
            self._on_cancel()
        elif kind == "open-result" and self._on_open is not None:
            self._on_open(str(content.get("callId", "")))

    def _repr_text(self) -> str:
        state = self.state
        parts = [f"status={state.display_status!r}"]
        if state.entry_agent:
            parts.append(f"agent={state.entry_agent!r}")
        parts.append(f"tool_calls={len(state.tools)}")
        return f"RunView({', '.join(parts)})"

    def _repr_html(self) -> str:
        state = self.state
        body = []
        facts = [fmt_duration(state.duration_ms), fmt_usage(state.usage)]
        if any(facts):
            body.append(f"<div style='{DIM}'>{esc(' · '.join(f for f in facts if f))}</div>")
        if state.prompt:
            body.append(f"<div><i>prompt:</i> {esc(state.prompt)}</div>")
        steps = {node.parent_call: node for node in state.agents.values() if node.parent_call}
        for call in state.tools.values():
            step = steps.get(call.call_id)
            extra = f" · {step.agent} {_step(step)}" if step is not None else ""
            shown = tool_state(call)
            outcome = (
                f"error: {esc(call.error)}" if shown == "error"
                else esc(call.result) if shown == "done" else shown
            )
            body.append(
                f"<details><summary>{esc(call.agent or '')} → <code>{esc(call.tool)}</code> "
                f"<span style='{DIM}'>{esc(shown)} {esc(fmt_duration(call.duration_ms))}"
                f"{esc(extra)}</span></summary><div>args: <code>{esc(call.args)}</code></div>"
                f"<div>result: <code>{_clip(outcome)}</code></div></details>"
            )
        text = text_of(state)
        if text:
            body.append(f"<div style='white-space:pre-wrap'>{html.escape(text)}</div>")
        errors = [f"{e['where']}: {e['message']}" if e.get("where") else e["message"]
                  for e in state.errors] + self.consumer_errors
        for error in errors:
            body.append(f"<div style='{ERROR_STYLE}'>error: {esc(error)}</div>")
        title = f"flowai run · {esc(headline(state))}"
        return frame(title, "".join(body), "flowai-run")


DIM = "color:var(--jp-ui-font-color2,#666)"
_CLIP = 2000  # characters of one tool result in the static form


def _clip(text: str) -> str:
    return text if len(text) <= _CLIP else text[: _CLIP - 1] + "…"


def _step(step: Any) -> str:
    return " · ".join(p for p in (fmt_duration(step.duration_ms), fmt_usage(step.usage)) if p)
