"""Studio: the local web app for a FlowAIApp (SPEC §15).

``flowai-nb studio APP`` serves it from one process (:class:`StudioServer`);
:func:`create_studio_app` gives the ASGI app itself, which Jupyter Server also
mounts at ``/flowai-studio/``. ``flowai-nb studio`` also serves every workspace
over MCP at ``/mcp/<workspace>`` (``/mcp``: the first one; see :mod:`.mcp_mount`).
Starlette and uvicorn are imported on first use (``pip install 'flowai_nb[studio]'``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["StudioServer", "create_studio_app"]


def __getattr__(name: str) -> Any:
    if name == "create_studio_app":
        from .web import create_studio_app

        return create_studio_app
    if name == "StudioServer":
        from .server import StudioServer

        return StudioServer
    raise AttributeError(f"module 'flowai_nb.studio' has no attribute {name!r}")
