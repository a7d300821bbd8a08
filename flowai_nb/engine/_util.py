"""Small helpers shared by the engine modules."""

from __future__ import annotations

import hashlib
import inspect
import os
from typing import Any

from .._clock import now_ms
from .._json import dumps, to_json_value

__all__ = ["now_ms", "new_id", "jsonable", "canonical", "digest", "maybe_await"]


def new_id(prefix: str) -> str:
    """A fresh random id such as ``run-3f2a9c1e0b7d``."""
    return f"{prefix}-{os.urandom(6).hex()}"


def jsonable(value: Any, nulled: list[str] | None = None) -> Any:
    """``value`` as plain JSON data under the package's one JSON rule
    (:func:`flowai_nb._json.to_json_value`)."""
    return to_json_value(value, nulled=nulled)


def canonical(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, NaN/inf as null."""
    return dumps(value, sort_keys=True)


def digest(*parts: str, size: int = 16) -> str:
    """A short hex sha256 of ``parts``."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:size]


async def maybe_await(value: Any) -> Any:
    """Await ``value`` if it is awaitable (lets users pass sync or async callables)."""
    if inspect.isawaitable(value):
        return await value
    return value
