"""Worker threads for synchronous tool handlers (SPEC §16: never on the event loop).

:func:`in_worker` runs ``fn(*args)`` in a pooled daemon thread and returns its
result to the awaiting coroutine. Two things make it cheaper and safer than
``asyncio.to_thread`` for tool calls:

- A handler that finished quickly last time is waited for synchronously for at
  most :data:`QUICK_WAIT_S` (the loop blocks that long at most, releasing the
  GIL), which saves the loop's wake-up through its self-pipe: most tools return
  in microseconds. A slower one is awaited like any future.
- The threads are daemons and belong to no event loop, so a handler that hangs
  past its timeout delays neither ``asyncio.run`` returning nor the
  interpreter exiting (a hung thread is abandoned, as before, never killed).

A worker that has been idle for :data:`IDLE_SECONDS` exits; at most
:data:`MAX_WORKERS` run at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["in_worker", "WorkerTimeout", "QUICK_WAIT_S", "IDLE_SECONDS", "MAX_WORKERS"]

QUICK_WAIT_S = 0.0002
"""Longest time the loop waits synchronously for a handler that was quick last time."""

IDLE_SECONDS = 60.0
"""A worker thread with nothing to do for this long exits."""

MAX_WORKERS = 128
"""Most worker threads at once; further calls wait for one to be free (a call whose
caller gave up meanwhile, by timeout or cancellation, is skipped, never started)."""

_jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
_lock = threading.Lock()
_idle = 0  # idle workers not yet promised to a submitted job
_threads = 0  # worker threads alive
_slow: dict[int, bool] = {}  # id(fn) -> its last call outlived QUICK_WAIT_S (a hint only)


def _forget_workers() -> None:
    """In a forked child the parent's workers do not exist: start from none."""
    global _jobs, _lock, _idle, _threads
    _jobs, _lock, _idle, _threads = queue.SimpleQueue(), threading.Lock(), 0, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


class _Job:
    __slots__ = ("fn", "args", "context", "done", "finished", "value", "error", "wake",
                 "seconds", "abandoned")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.context = contextvars.copy_context()
        self.done = threading.Lock()
        self.done.acquire()
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.wake: Callable[[], None] | None = None
        self.seconds = 0.0
        self.abandoned = False

    def run(self) -> None:
        start = time.perf_counter()
        if not self.abandoned:  # its caller stopped waiting before a worker was free
            try:
                self.value = self.context.run(self.fn, *self.args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                self.error = exc
        self.seconds = time.perf_counter() - start
        global _idle
        with _lock:
            self.finished = True
            wake = self.wake
            _idle += 1  # before the caller can submit again: its next job reuses this thread
        self.done.release()
        if wake is not None:
            wake()

    def outcome(self) -> Any:
        if len(_slow) > 4096:  # ids of short-lived callables: keep the hints bounded
            _slow.clear()
        _slow[id(self.fn)] = self.seconds > QUICK_WAIT_S
        if self.error is not None:
            raise self.error
        return self.value


def _work() -> None:
    global _idle, _threads
    while True:
        try:
            job = _jobs.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            with _lock:
                if _idle > 0:  # no submitted job counts on this worker: leave
                    _idle -= 1
                    _threads -= 1
                    return
            continue
        job.run()  # counts this worker idle again as it finishes
        del job


def _submit(job: _Job) -> None:
    global _idle, _threads
    with _lock:
        spawn = False
        if _idle > 0:
            _idle -= 1
        elif _threads < MAX_WORKERS:
            _threads += 1
            spawn = True
    if spawn:
        threading.Thread(target=_work, name="flowai tool worker", daemon=True).start()
    _jobs.put(job)


class WorkerTimeout(TimeoutError):
    """The call outlived its ``timeout`` and was abandoned (it runs on in its thread)."""


async def in_worker(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
    """``fn(*args)`` in a worker thread (with this context's variables); its result or
    its exception.

    Raises:
        WorkerTimeout: ``fn`` ran longer than ``timeout`` seconds.

    Cancelling the awaiting coroutine, like a timeout, abandons the call, which runs on.
    """
    job = _Job(fn, args)
    _submit(job)
    if not _slow.get(id(fn)) and job.done.acquire(timeout=QUICK_WAIT_S):
        return job.outcome()  # no loop timer needed for a call this short
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def resolve() -> None:
        if not future.done():
            future.set_result(None)

    def wake() -> None:
        try:
            loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop closed while the call ran (it was abandoned)
            pass

    with _lock:
        finished = job.finished
        if not finished:
            job.wake = wake
    if not finished:
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            job.abandoned = True
            if not future.cancelled():
                raise  # pragma: no cover - the future is only ever resolved with None
            raise WorkerTimeout(f"{timeout:g}s") from None
        except asyncio.CancelledError:
            job.abandoned = True
            raise
    return job.outcome()
