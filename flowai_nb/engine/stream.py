"""RunStream: the one event stream of a run, for ``async for`` and plain ``for``."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from .blocking import drive

__all__ = ["RunStream"]

_DELTAS = frozenset({"text-delta", "reasoning-delta"})
_WAKE_BATCH = 256
"""Buffered deltas that wake a waiting consumer at once."""
_WAKE_AFTER_S = 0.001
"""The longest a delta waits in the buffer for more to join it."""


class RunStream:
    """The events of one run (SPEC §5), in order.

    - ``async for event in stream`` on a running loop (a notebook cell, an
      ``asyncio.run`` script); the run starts as a task on that loop at the
      first iteration.
    - plain ``for event in stream`` from synchronous code. A gate must then be
      answered by code (``runtime.respond_to_approval`` inside the loop) or a
      headless policy (``approvals=...``); asking for the next event while the
      run waits for an unanswered approval raises ``RuntimeError`` instead of
      hanging.
    - ``cancel()`` ends the run with ``run-finish`` status ``cancelled``.

    A consumer that stops iterating while the run waits for an approval
    leaves the run paused; it can be continued with
    ``runtime.query(None, thread_id, resume=token)``.

    Text and reasoning deltas wake a waiting consumer in batches (256 deltas,
    or 1 ms after the first), so a provider that yields to the loop on every
    delta, as a network stream does, does not cost a task switch per delta;
    every other event wakes it at once, with the deltas before it.
    """

    def __init__(self, run: Any, starter: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._run = run
        self._starter = starter
        self._buffer: deque[dict[str, Any]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._error: BaseException | None = None
        self._sync_loop: asyncio.AbstractEventLoop | None = None
        self.events_seen = 0

    # -- producer side (called by the run) ---------------------------------
    def _push(self, event: dict[str, Any]) -> None:
        buffer = self._buffer
        buffer.append(event)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if event["type"] not in _DELTAS or len(buffer) >= _WAKE_BATCH:
            self._wake()
        elif self._timer is None:
            self._timer = waiter.get_loop().call_later(_WAKE_AFTER_S, self._wake)

    def _wake(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _close(self, error: BaseException | None = None) -> None:
        self._closed = True
        self._error = error
        self._wake()

    # -- public ----------------------------------------------------------------
    @property
    def run_id(self) -> str:
        """The run's id (kept across a resume)."""
        return self._run.id

    @property
    def runtime(self) -> Any:
        """The :class:`Runtime` running this stream (answers its approvals)."""
        return self._run.services.handle

    @property
    def thread_id(self) -> str:
        """The run's top-level thread."""
        return self._run.thread_id

    @property
    def status(self) -> str:
        """``running``, ``paused`` (waiting for an approval), ``completed``, ``failed``
        or ``cancelled``."""
        return self._run.status

    @property
    def text(self) -> str:
        """The final text of the run (empty until it finishes)."""
        return self._run.final_text

    @property
    def resume_token(self) -> str | None:
        """The token to continue this run after a pause, if it paused."""
        return self._run.resume_token

    @property
    def pending_approval(self) -> str | None:
        """The id of the approval the run is waiting for, if any."""
        return self._run.parked

    def start(self) -> asyncio.Task[None]:
        """Start the run on the running loop now (iteration does this implicitly)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._starter())
        return self._task

    def cancel(self) -> None:
        """Stop the run: it ends with ``run-finish`` status ``cancelled``."""
        self._run.cancel_requested = True
        task = self._run.task  # the run itself, also when this stream only follows it
        if task is not None and not task.done():
            task.cancel()
        elif task is None:
            self._run.finish_unstarted_cancel()

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._task is None and not self._closed:
            self.start()
        while not self._buffer:
            if self._closed:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self.events_seen += 1
        return self._buffer.popleft()

    async def collect(self) -> list[dict[str, Any]]:
        """Consume the whole stream; return every event."""
        return [event async for event in self]

    def __iter__(self) -> RunStream:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._buffer:
            self.events_seen += 1
            return self._buffer.popleft()
        if self._closed and self._error is None:
            raise StopIteration
        parked = self._run.parked
        if parked is not None and self._run.is_waiting_for_person():
            raise RuntimeError(
                f"run {self.run_id} is waiting for approval {parked!r}: answer it with "
                f"runtime.respond_to_approval({parked!r}, 'approve'|'reject'|'revise') before "
                f"asking for the next event, or pass approvals='auto_approve'"
            )
        if self._task is not None and self._task.get_loop() is not self._sync_loop:
            raise RuntimeError(
                f"run {self.run_id} already streams on an event loop (it was started with "
                "`async for` or start()); keep consuming it with `async for event in stream`"
            )
        if self._sync_loop is None or self._sync_loop.is_closed():
            self._sync_loop = asyncio.new_event_loop()
        try:
            # In a notebook cell the kernel's loop is running: the run gets a loop of its
            # own on a helper thread instead of re-entering the kernel's (SPEC §14).
            return drive(self._sync_loop, self.__anext__())
        except StopAsyncIteration:
            self._sync_loop.close()
            self._sync_loop = None
            raise StopIteration from None

    def __repr__(self) -> str:
        return f"<RunStream run={self.run_id} status={self.status} events={self.events_seen}>"
