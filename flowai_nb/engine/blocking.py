"""Run a coroutine to completion from synchronous code, never re-entering a running loop.

Inside a notebook cell the kernel's event loop is already running, and
re-entering it (nest-asyncio) drops widget clicks and hangs "Run All". So when
the calling thread has a running loop, :func:`drive` runs the coroutine on a
loop of its own in a helper thread and blocks the caller until it is done. The
caller's loop is paused meanwhile (nothing else in the kernel runs), which is
what a synchronous call means; code that must keep the kernel responsive
awaits the async form instead.
"""

from __future__ import annotations

import _signal  # signal's C core: the same functions without the enum wrapping (7 -> 0.5 us)
import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["drive", "in_running_loop", "run_sync", "close_loop"]

T = TypeVar("T")


def in_running_loop() -> bool:
    """True when the calling thread runs an event loop (a notebook cell, an async function)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def drive(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """``loop.run_until_complete(coro)``, on a helper thread if this thread runs a loop.

    ``loop`` must not be running. Between two calls it stays idle, so a
    consumer can drive the same loop step by step (as sync iteration of a run
    stream does). An interrupt (Ctrl-C, the kernel's stop button) while
    waiting cancels the coroutine and re-raises ``KeyboardInterrupt`` once it
    has unwound; other tasks on ``loop`` are left as they were, never
    interrupted half-way through a step.
    """
    if not in_running_loop():
        return _run_interruptibly(loop, coro)
    box: dict[str, Any] = {}

    def run() -> None:
        box["task"] = task = loop.create_task(coro)
        try:
            box["value"] = loop.run_until_complete(task)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    helper = threading.Thread(target=run, name="flowai sync call", daemon=True)
    helper.start()
    try:
        helper.join()
    except KeyboardInterrupt:
        task = box.get("task")
        if task is not None:
            loop.call_soon_threadsafe(task.cancel)
        helper.join()
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


def _run_interruptibly(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """``run_until_complete`` where Ctrl-C cancels ``coro``'s task (as ``asyncio.run``
    does) instead of raising inside whatever callback the loop runs at that moment."""
    task = loop.create_task(coro)
    if (threading.current_thread() is not threading.main_thread()
            or _signal.getsignal(_signal.SIGINT) is not _signal.default_int_handler):
        return loop.run_until_complete(task)
    interrupted = False

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal interrupted
        if interrupted or task.done():  # a second Ctrl-C: interrupt for real
            raise KeyboardInterrupt
        interrupted = True
        loop.call_soon_threadsafe(task.cancel)

    _signal.signal(_signal.SIGINT, on_interrupt)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)


async def _settle_tasks() -> None:
    """Cancel every other task of the running loop and wait until they have unwound."""
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)
    for task in tasks:  # retrieved, so none is logged as "never retrieved"
        if not task.cancelled():
            task.exception()
    await asyncio.get_running_loop().shutdown_asyncgens()


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks ``loop`` still holds, let them unwind, and close it (as
    ``asyncio.run`` does at its end); a closed loop is left alone."""
    if loop.is_closed():
        return
    try:
        # nothing to settle (a run that ended normally): skip a round trip through the loop
        if asyncio.all_tasks(loop) or getattr(loop, "_asyncgens", True):
            drive(loop, _settle_tasks())
    finally:
        loop.close()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` that also works while this thread runs a loop (see :func:`drive`)."""
    loop = asyncio.new_event_loop()
    try:
        return drive(loop, coro)
    finally:
        close_loop(loop)
