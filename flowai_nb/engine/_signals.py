"""Control-flow exceptions of a run (never seen by users)."""

from __future__ import annotations

from typing import Any

__all__ = ["RunFailed", "AgentLimit", "Superseded"]


class RunFailed(Exception):
    """Ends the run with an ``error`` event and ``run-finish`` status ``failed``."""

    def __init__(self, message: str, where: str, frame: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.frame = frame


class AgentLimit(Exception):
    """An agent reached ``maxTurns``; its ``error`` event was already emitted."""


class Superseded(Exception):
    """Another owner holds the run's lease; this copy stops without touching it.

    ``error`` is what the run's stream raises to its consumer.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
