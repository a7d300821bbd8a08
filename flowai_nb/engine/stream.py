"""RunStream: the one event stream of a run, for ``async for`` and plain ``for``."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from .blocking import close_loop, drive, run_sync

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
    - plain ``for event in stream`` from synchronous code: each step drives the
      run on a private event loop of the stream. A gate must then be answered
      by code (``runtime.respond_to_approval`` inside the loop) or a headless
      policy (``approvals=...``); asking for the next event while the run waits
      for an unanswered approval raises ``RuntimeError`` instead of hanging.
    - ``cancel()`` ends the run with ``run-finish`` status ``cancelled`` (also a
      paused run this stream only resumed or closed: its approval is withdrawn).

    Stopping to follow: ``close()`` (``await aclose()`` in async code), or use
    the stream as a context manager (``with runtime.query(...) as stream:`` /
    ``async with``), which closes it on the way out:

    - run waiting at an approval gate: it stays paused in the store, resumable
      from any process with ``runtime.query(None, thread_id, resume=token)``
      (its lease released, its approval still pending, no ``run-finish``);
      only ``cancel()`` or the approval timeout ends it. Its task in this
      process ends quietly. The approval timeout, if any, starts again for
      whoever resumes it.
    - run already over (or never started): nothing happens to it (a run that
      has not started never will).
    - run still working, on a plain ``for`` stream: nobody would drive its
      private loop again, so it is cancelled: ``run-finish`` status
      ``cancelled``, as with ``cancel()``.
    - run still working, on an ``async for`` stream: it keeps running on its
      loop (the journal, ``runtime.subscribe`` and the event hooks still see
      every event); call ``cancel()`` to stop it.

    After ``close()`` the stream yields nothing more: iteration raises
    ``StopIteration`` / ``StopAsyncIteration``, like an exhausted generator.
    Closing twice, or a finished stream, is a no-op; ``close()`` may be called
    from any thread (a ``for`` loop driving the stream in another thread then
    stops at its next step). A plain ``for`` stream abandoned unfinished (a
    ``break`` without ``close()``) is closed the same way at interpreter exit.
    Ctrl-C (a notebook interrupt) during a ``for`` step raises
    ``KeyboardInterrupt`` and leaves the run where it was: iterate again to go
    on, or close the stream.

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
        self._stopped = False
        """The consumer stopped following (:meth:`close`)."""
        self._lock = threading.Lock()
        """Guards ``_stopped``, ``_driving`` and ``_sync_loop`` across threads."""
        self._driving = False
        """A ``for`` step is driving the private loop right now."""
        self._finalizer: weakref.finalize | None = None
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
        """The id of the approval the run is waiting for, if any (also once this stream
        was closed at that gate)."""
        run = self._run
        return run.parked or (run.open_gate if run.status == "paused" else None)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or :meth:`aclose`) was called."""
        return self._stopped

    def start(self) -> asyncio.Task[None]:
        """Start the run on the running loop now (iteration does this implicitly).

        Raises:
            RuntimeError: the stream was closed.
        """
        if self._stopped:
            raise RuntimeError(f"this stream of run {self.run_id} was closed; resume the run "
                               f"with runtime.query(None, thread_id, resume=token)")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._starter())
        return self._task

    def cancel(self) -> None:
        """Stop the run: it ends with ``run-finish`` status ``cancelled``.

        Also ends a paused run this stream does not drive: one resumed and not started
        (``runtime.query(None, thread_id, resume=token).cancel()``) or one whose stream
        was closed at its gate; its approval is withdrawn.

        Raises:
            RuntimeError: that paused run was resumed by another runtime meanwhile.
        """
        run = self._run
        task = run.task  # the run itself, also when this stream only follows it
        if task is not None and not task.done():
            run.cancel_requested = True
            task.cancel()
        elif run.root is not None and (task is None or run.status == "paused"):
            run_sync(run.cancel_paused())
        elif task is None:
            run.cancel_requested = True
            run.finish_unstarted_cancel()

    def close(self) -> None:
        """Stop following the run (see the class doc for what happens to it).

        Idempotent, safe from any thread. On a plain ``for`` stream it returns once
        the run's task in this process has ended (stopped at its gate, or cancelled);
        on an ``async for`` stream it only requests that (``await aclose()`` waits).

        Raises:
            Exception: what the run's task raised while ending, if anything.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._buffer.clear()
            loop = self._sync_loop
            if loop is not None:
                if self._driving:  # a `for` step in progress ends and applies the stop
                    loop.call_soon_threadsafe(self._wake)
                    return
                self._sync_loop = None
        if loop is not None:
            error = self._end_private_loop(loop)
            if error is not None:
                raise error
            return
        self._stop_on_run_loop()

    async def aclose(self) -> None:
        """Stop following the run (see the class doc); returns once the run's task in
        this process has ended, if closing ends it. Idempotent."""
        if self._sync_loop is not None:
            self.close()
            return
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._buffer.clear()
        task = self._stop_on_run_loop()
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            await _ended(task)

    def _stop_on_run_loop(self) -> asyncio.Task[Any] | None:
        """Apply :meth:`close` to a run on a loop other than a private one: here if that
        loop runs in this thread (or nowhere), else on its own thread; the run's task
        if it is now ending here."""
        task = self._run.task or self._task
        loop = task.get_loop() if task is not None else None
        if loop is not None and loop.is_running() and not _runs_here(loop):
            try:
                loop.call_soon_threadsafe(self._stop_following)
            except RuntimeError:  # pragma: no cover - closed meanwhile: nothing runs there
                pass
            return None
        return self._stop_following()

    def _stop_following(self) -> asyncio.Task[Any] | None:
        task = _stop_run(self._run, self, private=False)
        self._wake()  # a consumer waiting in __anext__ sees the stream closed
        return task

    def _end_private_loop(self, loop: asyncio.AbstractEventLoop) -> BaseException | None:
        """Stop the run as closing says, let its task end, close the private loop."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        return _end_private(loop, self._run, self)

    def __enter__(self) -> RunStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    async def __aenter__(self) -> RunStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._stopped:
            raise StopAsyncIteration
        if self._task is None and not self._closed:
            self.start()
        while not self._buffer:
            if self._stopped:
                raise StopAsyncIteration
            if self._closed:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                raise StopAsyncIteration
            if self._driving and self._run.parked is not None:
                self._check_not_waiting()  # a `for` step never waits for a person
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
        if self._buffer and not self._stopped:
            self.events_seen += 1
            return self._buffer.popleft()
        with self._lock:
            if self._stopped:
                raise StopIteration
            over = self._closed and self._error is None
            if over:
                loop, self._sync_loop = self._sync_loop, None
            else:
                loop = self._step_loop()
                self._driving = True
        if over:  # the run ended (a stream error was raised at the last step)
            if loop is not None:
                self._end_private_loop(loop)
            raise StopIteration
        try:
            # In a notebook cell the kernel's loop is running: the run gets a loop of its
            # own on a helper thread instead of re-entering the kernel's (SPEC §14).
            event = drive(loop, self.__anext__())
        except StopAsyncIteration:
            event = None
        except BaseException:  # the stream's error (then it is over), or an interrupt
            self._end_step(loop, over=self._closed and self._error is None)
            raise
        if self._end_step(loop, over=event is None):
            raise StopIteration
        return event  # type: ignore[return-value]

    def _step_loop(self) -> asyncio.AbstractEventLoop:
        """The private loop for the next ``for`` step (lock held)."""
        self._check_not_waiting()
        if self._task is not None and self._task.get_loop() is not self._sync_loop:
            raise RuntimeError(
                f"run {self.run_id} already streams on an event loop (it was started with "
                "`async for` or start()); keep consuming it with `async for event in stream`"
            )
        loop = self._sync_loop
        if loop is None or loop.is_closed():
            loop = self._sync_loop = asyncio.new_event_loop()
            # a stream abandoned unfinished (a `break`, an error) is closed at exit
            self._finalizer = weakref.finalize(self, _abandoned, loop, self._run)
        return loop

    def _check_not_waiting(self) -> None:
        parked = self._run.parked
        if parked is not None and self._run.is_waiting_for_person():
            raise RuntimeError(
                f"run {self.run_id} is waiting for approval {parked!r}: answer it with "
                f"runtime.respond_to_approval({parked!r}, 'approve'|'reject'|'revise') before "
                f"asking for the next event, or pass approvals='auto_approve'; or stop with "
                f"stream.close() (the run stays paused, resumable with its resume token)"
            )

    def _end_step(self, loop: asyncio.AbstractEventLoop, *, over: bool) -> bool:
        """After a ``for`` step: end the private loop if the run is over or the stream
        was closed meanwhile (from another thread); whether the stream is done."""
        with self._lock:
            self._driving = False
            done = over or self._stopped
            if done and self._sync_loop is loop:
                self._sync_loop = None
            else:
                return done
        self._end_private_loop(loop)
        return True

    def __repr__(self) -> str:
        closed = " closed" if self._stopped else ""
        return (f"<RunStream run={self.run_id} status={self.status} "
                f"events={self.events_seen}{closed}>")


def _runs_here(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _stop_run(run: Any, stream: RunStream | None, *, private: bool) -> asyncio.Task[Any] | None:
    """What closing ``stream`` does to ``run`` (called on the run's loop thread, or with
    its private loop idle); returns the run's task if it is now ending.

    ``private``: the run is driven by the stream's private loop, which nobody drives
    again. ``stream=None``: the stream is gone (closed at interpreter exit).
    """
    if stream is not None:
        own = stream._task
        if own is not None and own is not run.task:
            own.cancel()  # a follower of the run (resumed in this process), or not begun
        if run.stream is not stream:
            return None  # a newer stream follows the run now
    run.stream = None
    task = run.task
    if task is None or task.done():
        return None
    if run.at_rest():  # its task ends writing nothing (see Run.at_rest): the paused state,
        task.cancel()  # the pending approval and the released lease stay in the store
        return task
    if private:  # a half-run nobody would ever drive again: end it, with run-finish
        run.cancel_requested = True
        task.cancel()
        return task
    return None  # on a live loop it keeps running for its other followers


async def _ended(task: asyncio.Task[Any]) -> BaseException | None:
    """Wait for ``task`` to end; what it raised (other than being cancelled), retrieved."""
    await asyncio.wait([task])
    return None if task.cancelled() else task.exception()


def _end_private(loop: asyncio.AbstractEventLoop, run: Any,
                 stream: RunStream | None) -> BaseException | None:
    """Close a private loop: stop its run as closing says, let it end, close the loop."""
    error = None
    try:
        task = _stop_run(run, stream, private=True)
        if task is not None:
            error = drive(loop, _ended(task))
    finally:
        close_loop(loop)
    return error


def _abandoned(loop: asyncio.AbstractEventLoop, run: Any) -> None:
    """Close the private loop of a ``for`` stream nobody closed (at interpreter exit)."""
    try:
        _end_private(loop, run, None)
    except BaseException:  # noqa: BLE001 - nothing may escape at exit  # pragma: no cover
        pass
