"""Errors the engine raises to users."""

from __future__ import annotations

__all__ = ["ReferenceNotFoundError", "ReferenceExpiredError", "PlanNotFoundError"]


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
