"""Runs in the background of the kernel's event loop, shown as live widgets.

``start(runtime.query(...))`` schedules the run as an ``asyncio`` task on the
running loop (the kernel's, in a notebook) and returns a :class:`RunHandle`
at once. The handle is the only consumer of the run's event stream: it folds
every event into its state and feeds the run view, plan views and approval
cards from it, coalescing front-end traffic into one message per
``RunHandle.flush_interval`` (50 ms). Nothing here blocks or polls, so a
click on an approval card reaches the run while it waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from ._events import TERMINAL, approval_result, previous_version, run_summary, text_of
from .widgets import ApprovalCard, PlanView, RunView, TraceViewer
from .widgets._base import WIDGET_MIME, StaticForms

if TYPE_CHECKING:
    from ._events import RunState

__all__ = ["RunHandle", "Summary", "run", "start"]

_RUNNING: set[RunHandle] = set()  # strong references: a running task is never collected
_YIELD_EVERY = 0.02  # seconds of back-to-back events before the consumer yields to the loop

EventSource = AsyncIterable[dict[str, Any]] | Iterable[dict[str, Any]]


class Summary(str):
    """A run summary: a plain ``str`` that a notebook displays as text, not as a literal."""

    __slots__ = ()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


class RunHandle(StaticForms):
    """A run consumed in the background; display it to see the live view.

    Create it with :func:`start` or :func:`run`. ``await handle`` waits for the
    run to end (top-level ``await`` in a cell needs ipykernel >= 7.4) and
    returns the handle; it raises if consuming the stream failed.

    When the run ends, every displayed output of the handle gets its final
    static form (text/plain and text/html), so a saved or converted notebook
    shows how the run ended.

    Attributes:
        events: every event received so far, unmodified.
        runtime: the runtime approvals are answered through (or ``None``).
        view: the :class:`RunView` widget.
        policy: the headless approval policy the run was started with (or ``None``).
    """

    flush_interval = 0.05
    """Seconds between two batches sent to the front end (at most 20 messages/s)."""

    def __init__(self, source: EventSource, *, runtime: Any = None, policy: Any = None) -> None:
        import ipywidgets

        self._source = source
        self.policy = policy
        self.runtime = runtime if runtime is not None else getattr(source, "runtime", None)
        self.events: list[dict[str, Any]] = []
        self.view = RunView()
        self.view._on_cancel = self.cancel
        self.view._on_open = self.open_result
        self._grids: list[Any] = []
        self._box = ipywidgets.VBox([self.view])
        self._plan_views: dict[str, PlanView] = {}
        self._cards: dict[str, ApprovalCard] = {}
        self._dirty: dict[tuple[str, str], None] = {}  # ordered: views appear in event order
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._exception: BaseException | None = None
        self._finished = False

    # -- public state -------------------------------------------------------------

    @property
    def state(self) -> RunState:
        """The run folded from its events so far (status, text, tools, plans, approvals)."""
        return self.view.state

    @property
    def run_id(self) -> str | None:
        """The run's id, once known."""
        return getattr(self._source, "run_id", None) or self.state.run_id

    @property
    def status(self) -> str:
        """``starting``, ``running``, ``waiting for approval``, or the final status."""
        return self.state.display_status

    @property
    def done(self) -> bool:
        """True once the stream ended (whatever the outcome)."""
        return self._finished

    @property
    def text(self) -> str:
        """The run's final text (the streamed text until the run finished)."""
        return text_of(self.state)

    @property
    def trace_id(self) -> str | None:
        """The run's trace id, from its ``run-finish`` event."""
        return self.state.trace_id

    @property
    def plans(self) -> list[PlanView]:
        """One live view per plan the run stored, in order."""
        self._flush()
        return list(self._plan_views.values())

    @property
    def approvals(self) -> list[ApprovalCard]:
        """One card per approval the run asked for, in order."""
        self._flush()
        return list(self._cards.values())

    def summary(self) -> Summary:
        """A deterministic text summary of the run (no ids, no times), for regression tests."""
        return Summary(run_summary(self.state, self.view.consumer_errors))

    def trace(self) -> TraceViewer:
        """The trace viewer for this run (after it finished)."""
        if self.runtime is None or self.trace_id is None:
            raise RuntimeError(
                "no trace for this run yet: it needs a runtime and a finished run "
                f"(status {self.status!r}); await the handle first"
            )
        return TraceViewer.from_runtime(self.runtime, self.trace_id)

    def open_result(self, call_id: str) -> Any:
        """Open a tool call's result (a SQL result or a reference to one) in a data grid
        under the run view; returns the :class:`DataView`.

        Raises:
            LookupError: no finished tool call with that id.
        """
        from .widgets.data_view import DataView

        call = self.state.tools.get(call_id)
        if call is None or call.status != "ok":
            known = [c.call_id for c in self.state.tools.values() if c.status == "ok"]
            raise LookupError(f"no finished tool call {call_id!r}; finished calls: {known}")
        grid = DataView.for_result(call.result, runtime=self.runtime,
                                   title=f"{call.tool} result")
        self._grids.append(grid)
        self._relayout()
        return grid

    def cancel(self) -> None:
        """Stop the run: the stream ends it with status ``cancelled``."""
        cancel = getattr(self._source, "cancel", None)
        if callable(cancel):
            cancel()
        elif self._task is not None:
            self._task.cancel()

    async def respond(self, outcome: str, feedback: str | None = None, partial: Any = None) -> None:
        """Answer this run's next open approval, as a click on its card would.

        Waits (without blocking the loop) until the run asks for an approval.
        ``partial`` is as for ``runtime.respond_to_approval``: for a plan, the actions
        to run, each an index or ``{"index": i, "payload": {...}}`` (an edited payload).

        Raises:
            RuntimeError: the run ended without an open approval, or the runtime refused.
            ValueError: ``outcome`` is not approve, reject or revise, or ``partial`` is
                invalid (the approval stays pending).
        """
        while True:
            self._flush()
            for card in self._cards.values():
                if card.status == "pending" and not card.outcome:
                    await card.respond(outcome, feedback, partial)
                    return
            if self._finished:
                raise RuntimeError(
                    f"the run ended (status {self.status!r}) without an open approval to answer"
                )
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    async def wait(self) -> RunHandle:
        """Wait until the run ends; same as ``await handle``."""
        if self._task is not None and not self._finished:
            await asyncio.shield(self._task)
        # Again from the waiting cell: a notebook runner (nbclient) only reads the messages
        # of the cell it runs, so this is the update that reaches the saved notebook.
        self._refresh_static_forms()
        if self._exception is not None:
            raise self._exception
        return self

    def __await__(self):
        return self.wait().__await__()

    # -- display ------------------------------------------------------------------

    def __repr__(self) -> str:
        state = self.state
        parts = [f"status={self.status!r}"]
        if state.entry_agent:
            parts.append(f"agent={state.entry_agent!r}")
        if state.tools:
            parts.append(f"tool_calls={len(state.tools)}")
        return f"RunHandle({', '.join(parts)})"

    def _bundle(self) -> dict[str, Any]:
        return self._repr_mimebundle_()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        self._flush()
        parts = [self.view._repr_html()]
        parts += [w._repr_html() for w in (*self._plan_views.values(), *self._cards.values())]
        return {
            "text/plain": repr(self),
            "text/html": "".join(parts),
            WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": self._box.model_id},
        }

    # -- consuming the stream -----------------------------------------------------

    def _start(self) -> RunHandle:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a plain script or terminal: nothing else can run meanwhile
            self._consume_sync()
            return self
        self._task = loop.create_task(self._consume(), name=f"flowai run {self.run_id or ''}")
        _RUNNING.add(self)
        self._task.add_done_callback(lambda _task: _RUNNING.discard(self))
        return self

    def _consume_sync(self) -> None:
        if not hasattr(self._source, "__iter__"):
            asyncio.run(self._consume())
        else:  # RunStream's own sync iteration fails fast on a gate nobody can answer
            error = None
            try:
                for event in self._source:  # type: ignore[union-attr]
                    self._on_event(event, None)
            except Exception as exc:
                self._exception, error = exc, f"{type(exc).__name__}: {exc}"
            self._finish(error)
        if self._exception is not None:
            raise self._exception

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        error: str | None = None
        last_yield = loop.time()
        try:
            async for event in _aiter(self._source):
                self._on_event(event, loop)
                if loop.time() - last_yield > _YIELD_EVERY:  # keep clicks and flushes flowing
                    await asyncio.sleep(0)
                    last_yield = loop.time()
        except asyncio.CancelledError:
            error = "cancelled"
            self.state.status = "cancelled"
        except Exception as exc:  # shown in the widget, re-raised by `await handle`
            self._exception = exc
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self._finish(error)

    def _finish(self, error: str | None) -> None:
        if error is None and self.state.status not in TERMINAL:
            error = "the event stream ended without a run-finish event"
        self._flush()
        self.view.finish(error if self.state.status != "cancelled" else None)
        self._finished = True
        self._wake()
        self._refresh_static_forms()

    def _refresh_static_forms(self) -> None:
        for widget in (*self._plan_views.values(), *self._cards.values()):
            widget.refresh_static()
        self.refresh_static()

    def _on_event(self, event: dict[str, Any], loop: asyncio.AbstractEventLoop | None) -> None:
        self.events.append(event)
        self.view.add(event)
        kind = event.get("type")
        if kind in ("plan-stored", "plan-status", "action-status"):
            self._dirty["plan", event.get("planId", "")] = None
        elif kind in ("approval-required", "approval-decision"):
            self._dirty["approval", event.get("approvalId", "")] = None
            if kind == "approval-required":
                self._wake()
        if self._timer is None and loop is not None:
            self._timer = loop.call_later(self.flush_interval, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:  # flushing now: the scheduled flush has nothing left
            self._timer.cancel()
            self._timer = None
        self.view.flush()
        state, added = self.state, False
        for kind, key in self._dirty:
            if kind == "approval" and key in state.approvals and key not in self._cards:
                info = state.approvals[key]
                self._cards[key] = ApprovalCard(
                    info, runtime=self.runtime, policy=self.policy,
                    thread_id=state.thread_id, prompt=state.prompt,
                    previous=previous_version(state, info))
                added = True
        for key, card in self._cards.items():  # results follow the plan after the decision
            info = state.approvals[key]
            card.update(info, approval_result(state, info))
        for kind, key in self._dirty:
            if kind == "plan" and key in state.plans:
                if key in self._plan_views:
                    self._plan_views[key].update(state.plans[key])
                else:
                    self._plan_views[key] = PlanView.from_info(state.plans[key])
                    added = True
        self._dirty.clear()
        if added:
            self._relayout()

    def _relayout(self) -> None:
        self._box.children = (self.view, *self._plan_views.values(), *self._cards.values(),
                              *self._grids)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def start(stream: EventSource, *, runtime: Any = None, policy: Any = None) -> RunHandle:
    """Consume a run's event stream in the background and return its handle.

    In a notebook (any running event loop) the run becomes a task on that loop
    and this returns at once; display the handle for the live view. Without a
    running loop (a plain script) the run is consumed to the end before this
    returns, so it cannot wait for a click: give it a headless approval
    policy (``approvals=`` or ``FLOWAI_NB_APPROVAL``). Consuming errors are
    raised there, and by ``await handle`` otherwise.

    Args:
        stream: ``runtime.query(...)`` / ``runtime.run_specialist(...)``, or any
            (async) iterable of event dicts, for example a trace's events.
        runtime: answers approval clicks; defaults to ``stream.runtime`` if present.
        policy: the headless approval policy the stream was started with, so cards
            can say a decision came from it.
    """
    return RunHandle(stream, runtime=runtime, policy=policy)._start()


def run(
    runtime: Any,
    prompt: str,
    *,
    thread_id: str | None = None,
    approvals: Any = None,
    specialist: str | None = None,
) -> RunHandle:
    """Start ``prompt`` on ``runtime`` in the background and return its handle.

    Args:
        runtime: a ``flowai_nb`` Runtime.
        prompt: the user message.
        thread_id: the conversation thread; ``None`` lets the runtime start a new one.
        approvals: headless approval policy passed to the runtime
            (``"auto_approve"``, ``"auto_reject"``, a list of decisions or a
            callable); ``None`` waits for a click on the approval card.
        specialist: run this specialist directly instead of the coordinator.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"prompt must be a non-empty string, got {prompt!r}")
    if specialist is not None:
        stream = runtime.run_specialist(specialist, prompt, thread_id, approvals=approvals)
    else:
        stream = runtime.query(prompt, thread_id, approvals=approvals)
    return start(stream, runtime=runtime, policy=approvals)


async def _aiter(source: EventSource) -> AsyncIterator[dict[str, Any]]:
    if hasattr(source, "__aiter__"):
        async for event in source:  # type: ignore[union-attr]
            yield event
    else:
        for event in source:  # type: ignore[union-attr]
            yield event
