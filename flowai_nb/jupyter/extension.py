"""``%load_ext flowai_nb`` / ``%unload_ext flowai_nb``."""

from __future__ import annotations

import warnings
from typing import Any

MIN_IPYKERNEL = (7, 4)
_RUNTIME_TYPE = ("flowai_nb.engine.runtime", "Runtime")


def load_ipython_extension(ipython: Any) -> None:
    """Register the flowai magics and the Runtime's rich display on ``ipython``."""
    from .magics import FlowAIMagics

    _warn_old_ipykernel()
    ipython.register_magics(FlowAIMagics)
    html = ipython.display_formatter.formatters["text/html"]
    html.for_type_by_name(*_RUNTIME_TYPE, _runtime_html)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove every magic and display formatter :func:`load_ipython_extension` added."""
    from .magics import FlowAIMagics

    manager = ipython.magics_manager
    for kind, names in FlowAIMagics.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(FlowAIMagics.__name__, None)
    html = ipython.display_formatter.formatters["text/html"]
    html.deferred_printers.pop(_RUNTIME_TYPE, None)
    for cls in list(html.type_printers):
        if (cls.__module__, cls.__qualname__) == _RUNTIME_TYPE:
            html.type_printers.pop(cls)


def _warn_old_ipykernel() -> None:
    try:
        from importlib.metadata import version

        found = version("ipykernel")
    except Exception:  # no ipykernel: a plain IPython shell, nothing can deadlock
        return
    parts = tuple(int(p) for p in found.split(".")[:2] if p.isdigit())
    if parts < MIN_IPYKERNEL:
        warnings.warn(
            f"flowai_nb: ipykernel {found} is older than 7.4. Runs still work in the "
            "background, but `await handle` in a cell deadlocks when the run waits for an "
            "approval click. Upgrade with: pip install 'ipykernel>=7.4'",
            RuntimeWarning,
            stacklevel=3,
        )


def _runtime_html(runtime: Any) -> str:
    import html

    spec = getattr(runtime, "spec", None)
    agents = getattr(spec, "agents", None) or []
    rows = "".join(
        f"<tr><td><code>{html.escape(str(getattr(a, 'name', a)))}</code></td>"
        f"<td>{html.escape(str(getattr(a, 'role', '')))}</td></tr>"
        for a in agents
    )
    try:
        pending = len(runtime.pending_approvals())
    except Exception:
        pending = 0
    tenant = getattr(runtime, "tenant", None)
    name = getattr(tenant, "key", None) or tenant or ""
    interpreter = getattr(runtime, "interpreter", None)
    interpreter = getattr(interpreter, "name", interpreter) or ""
    return (
        f"<div class='flowai'><b>flowai runtime</b> {html.escape(str(name))} · "
        f"interpreter {html.escape(str(interpreter))} · "
        f"{len(agents)} agents · {pending} pending approvals"
        f"<table><tr><th>agent</th><th>role</th></tr>{rows}</table></div>"
    )
