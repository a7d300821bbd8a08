"""Run one tool handler, contained: whatever it does, the run goes on (SPEC §16).

- a synchronous handler runs in a worker thread, so a slow query or a
  ``time.sleep`` never blocks the event loop (other runs, widgets, clicks);
- an async handler runs on the loop;
- either is bounded by a per-tool timeout;
- any raise (``CancelledError`` and other ``BaseException`` subclasses
  included) becomes a :class:`ToolError` whose message the model reads, except
  a cancellation of the run itself, which propagates.

The handler's result is checked against the JSON rule by the caller
(:func:`tool_result_value`).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

from .._json import JSONValueError, to_json_value
from .._redact import redact
from .workers import WorkerTimeout, in_worker

__all__ = ["DEFAULT_TOOL_TIMEOUT_S", "ToolError", "check_timeout", "checked_args",
           "error_text", "run_contained", "tool_result_value"]

DEFAULT_TOOL_TIMEOUT_S = 120.0
"""Seconds a tool handler may run before its call ends with a timeout error."""


class ToolError(Exception):
    """A tool call failed in a way the model should read (and the run survives)."""


def check_timeout(value: Any, what: str = "tool_timeout") -> float | None:
    """``value`` as a positive number of seconds (or ``None``); ``ValueError`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or value != value:
        raise ValueError(f"{what} must be a positive number of seconds or None; got {value!r}")
    return float(value)


def error_text(exc: BaseException) -> str:
    """``"Type: message"`` of an exception, safe to show a model (secrets redacted,
    a raising ``__str__`` survived)."""
    try:
        message = str(exc)
    except BaseException as inner:  # noqa: BLE001 - a hostile __str__
        message = f"<str() raised {type(inner).__name__}>"
    name = type(exc).__name__
    return redact(f"{name}: {message}" if message else name)


def _is_async(handler: Callable[..., Any]) -> bool:
    while isinstance(handler, functools.partial):
        handler = handler.func
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None))  # noqa: B004 - async __call__ objects


async def run_contained(handler: Callable[..., Any], args: Any, ctx: Any, *, tool: str,
                        timeout: float | None) -> Any:
    """Call ``handler(args, ctx)`` contained; return its result.

    Raises:
        ToolError: the handler raised (anything), or ran past ``timeout`` seconds.
        asyncio.CancelledError: only when the run's own task is being cancelled.
    """
    task = asyncio.current_task()
    cancelling = task.cancelling() if task is not None else 0
    original, deadline = timeout, None
    try:
        if _is_async(handler):
            result = handler(args, ctx)
        else:  # bounded in the worker: a quick call then needs no timer on the loop
            started = time.monotonic()
            result = await in_worker(handler, args, ctx, timeout=timeout)
            if timeout is not None:
                timeout = max(timeout - (time.monotonic() - started), 0.0)
        if inspect.isawaitable(result):
            deadline = asyncio.timeout(timeout)
            async with deadline:
                result = await result
        return result
    except asyncio.CancelledError as exc:
        if task is not None and task.cancelling() > cancelling:
            raise  # the run itself is being cancelled (or the loop is going away)
        raise ToolError(f"tool {tool!r} raised {error_text(exc)}") from None
    except BaseException as exc:  # noqa: BLE001 - any raise is the tool's failure
        if isinstance(exc, WorkerTimeout) or (isinstance(exc, TimeoutError)
                                              and deadline is not None and deadline.expired()):
            raise ToolError(f"tool {tool!r} did not finish within {original:g}s and was "
                            "abandoned; try a smaller request") from None
        raise ToolError(error_text(exc)) from None


def tool_result_value(result: Any, tool: str) -> tuple[Any, list[str]]:
    """``result`` under the JSON rule, and the paths of NaN / infinities made null.

    Raises:
        ToolError: the result has no JSON form (bytes, a cycle, too deep, a raising repr).
    """
    nulled: list[str] = []
    try:
        return to_json_value(result, nulled=nulled), nulled
    except JSONValueError as exc:
        raise ToolError(f"tool {tool!r} returned a value that is not JSON: {exc}") from None
    except RecursionError:
        raise ToolError(f"tool {tool!r} returned a value nested too deeply for JSON") from None


def checked_args(value: Any) -> tuple[dict[str, Any], str | None, list[str]]:
    """A model's tool arguments under the JSON rule: ``(args, problem, nulled paths)``.

    Arguments that have no JSON form (bytes, a cycle, too deep) or are not an object
    become ``{}`` with a ``problem`` the model reads as the call's error.
    """
    nulled: list[str] = []
    try:
        args = to_json_value(value, nulled=nulled)
    except (JSONValueError, RecursionError) as exc:
        return {}, f"the tool arguments are not JSON: {exc}", []
    if not isinstance(args, dict):
        return {}, f"tool arguments must be a JSON object; got {type(value).__name__}", []
    return args, None, nulled
