"""The engine: runs, events, approvals, plans, references and traces.

It never imports the Jupyter, MCP or Studio surfaces.
"""

from .errors import (
    AmbiguousPlanError,
    PlanNotFoundError,
    ReferenceExpiredError,
    ReferenceNotFoundError,
    RunLeasedError,
)
from .runtime import Runtime, create_runtime
from .stream import RunStream

__all__ = ["AmbiguousPlanError", "PlanNotFoundError", "ReferenceExpiredError",
           "ReferenceNotFoundError", "RunLeasedError", "RunStream", "Runtime", "create_runtime"]
