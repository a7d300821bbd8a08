"""The ``noop`` interpreter: every agent turn ends at once with empty text."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .base import Interpreter, TurnEvent, TurnRequest

__all__ = ["NoopInterpreter"]


class NoopInterpreter(Interpreter):
    """No provider at all; useful to check wiring and approvals without a model."""

    name = "noop"

    async def turn(self, request: TurnRequest) -> AsyncIterator[TurnEvent]:
        return
        yield  # pragma: no cover - makes this an async generator
