"""Errors the engine raises to users."""

from __future__ import annotations

from typing import Any

__all__ = ["ReferenceNotFoundError", "ReferenceExpiredError", "PlanNotFoundError",
           "AmbiguousPlanError", "RunLeasedError"]


class ReferenceNotFoundError(KeyError):
    """No reference with this id exists for this tenant."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "reference not found"


class ReferenceExpiredError(LookupError):
    """The reference existed but its ``ttl_ms`` has passed."""


class PlanNotFoundError(KeyError):
    """No plan with this id exists for this tenant."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "plan not found"


class AmbiguousPlanError(KeyError):
    """A plan id given without a thread exists in several threads (plan versions are
    per thread): pass ``thread_id=``.

    Attributes:
        threads: the ids of the threads that have the plan id.
    """

    def __init__(self, message: str, *, threads: list[str] | None = None) -> None:
        super().__init__(message)
        self.threads = list(threads or [])

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "plan id is in several threads"


class RunLeasedError(RuntimeError):
    """Another runtime holds the run's lease (SPEC §5.3): it is executing the run.

    Attributes:
        owner: the lease owner's id.
        expires_at: epoch milliseconds when the lease ends unless renewed.
    """

    def __init__(self, message: str, *, owner: Any = None, expires_at: Any = None) -> None:
        super().__init__(message)
        self.owner = owner
        self.expires_at = expires_at
