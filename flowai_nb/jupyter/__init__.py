"""The Jupyter surface: background runs shown as live widgets, magics, displays.

>>> handle = flowai_nb.jupyter.run(runtime, "refund order 42")   # returns at once
>>> handle                        # the live run view, plan views and approval cards
>>> await handle                  # optional: wait in the cell (ipykernel >= 7.4)
>>> print(handle.summary())

Names are imported lazily so ``%load_ext flowai_nb`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .extension import load_ipython_extension, unload_ipython_extension
    from .handle import RunHandle, Summary, run, start
    from .widgets import (
        ApprovalCard,
        DataView,
        EvalView,
        PlanView,
        RunView,
        TraceTable,
        TraceViewer,
        eval_view,
    )

_LAZY = {
    "RunHandle": "handle", "Summary": "handle", "run": "handle", "start": "handle",
    "ApprovalCard": "widgets", "PlanView": "widgets", "RunView": "widgets",
    "TraceTable": "widgets", "TraceViewer": "widgets", "DataView": "widgets",
    "EvalView": "widgets", "eval_view": "widgets",
    "load_ipython_extension": "extension", "unload_ipython_extension": "extension",
}

__all__ = [
    "ApprovalCard", "DataView", "EvalView", "PlanView", "RunHandle", "RunView", "Summary",
    "TraceTable", "TraceViewer",
    "eval_view", "load_ipython_extension", "run", "start", "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowai_nb.jupyter' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
