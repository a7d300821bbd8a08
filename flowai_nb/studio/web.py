"""Assemble Studio: the API, the UI's static files and the guard, as one ASGI app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ._security import LOOPBACK_HOSTS, Guard
from .api import StudioState, routes

__all__ = ["create_studio_app"]

STATIC = Path(__file__).resolve().parent / "static"
# The notebook widgets' front ends, reused by the UI through a model-like adapter.
WIDGETS = ("run_view", "approval_card", "trace_viewer", "eval_view", "data_view", "plan_view")
_WIDGET_CSS = ("flowai.css", "data_view.css", "eval_view.css")


def _no_store(response: Response) -> Response:
    response.headers["cache-control"] = "no-store"
    return response


async def _index(request: Request) -> Response:
    return _no_store(FileResponse(STATIC / "index.html", media_type="text/html"))


async def _widget(request: Request) -> Response:
    from ..jupyter._assets import asset_text

    name = request.path_params["name"]
    if name == "widgets.css":
        return _no_store(Response(asset_text(*_WIDGET_CSS), media_type="text/css"))
    stem = name.removesuffix(".js")
    if not name.endswith(".js") or stem not in WIDGETS:
        return Response("not found", status_code=404, media_type="text/plain")
    return _no_store(Response(asset_text("_common.js", f"{stem}.js"),
                              media_type="text/javascript"))


def create_studio_app(app: Any, *, token: str | None,
                      hosts: Iterable[str] | None = LOOPBACK_HOSTS, mcp: bool = False) -> Any:
    """The Studio ASGI app for a :class:`~flowai_nb.FlowAIApp`.

    Args:
        app: the FlowAIApp to serve (``load_app("module:attr")`` gives one).
        token: the access token every ``/api`` call needs; ``None`` only behind
            a server that authenticates by itself (Jupyter Server).
        hosts: the host names the ``Host`` header may name (``None``: any, left
            to the server in front).
        mcp: also serve every workspace over MCP (Streamable HTTP) at ``/mcp`` (the
            default workspace) and ``/mcp/<workspace>`` (see :mod:`.mcp_mount`), when
            the MCP extra is installed; ``app.mcp_paths`` then maps each workspace to
            its path (empty without MCP).
    """
    state = StudioState(app)
    served = _mcp(app) if mcp else None
    if served is not None:
        state.mcp_paths = served.paths()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if served is not None:
                await stack.enter_async_context(served.lifespan())
            try:
                yield
            finally:
                await state.close()

    starlette = Starlette(routes=[
        Route("/", _index),
        *routes(),
        Route("/widgets/{name}", _widget),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *(served.routes() if served is not None else ()),
    ], lifespan=lifespan)
    starlette.state.studio = state
    guard = Guard(starlette, token=token, hosts=hosts)
    guard.state = state  # type: ignore[attr-defined]
    guard.starlette = starlette  # type: ignore[attr-defined]
    guard.mcp_paths = dict(state.mcp_paths)  # type: ignore[attr-defined]
    return guard


def _mcp(app: Any) -> Any:
    """The MCP mount for ``app``, or ``None`` when the MCP extra is not installed."""
    try:
        import mcp.server.streamable_http_manager  # noqa: F401
    except ImportError:
        return None
    from .mcp_mount import WorkspaceMCP

    return WorkspaceMCP(app)
