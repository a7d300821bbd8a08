"""MCP (Streamable HTTP) for every workspace of a Studio app, in the Studio process.

URL scheme::

    /mcp               the app's default (first) workspace, as before
    /mcp/<workspace>   that workspace (its name percent-encoded: /mcp/north%20wing)

Each workspace gets its own MCP server and session manager, built on its first
request (a workspace's runtime factory runs then, not at startup), over that
workspace's runtime only: a session opened on one workspace is unknown to every
other. Studio's guard checks the token, Host and Origin in front of every path.
An unknown workspace answers 404 naming the known ones; a workspace whose
runtime cannot be built answers 503 with the error, and is tried again on the
next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

__all__ = ["MCP_PATH", "WorkspaceMCP", "mcp_path"]

MCP_PATH = "/mcp"


def mcp_path(workspace: str) -> str:
    """The path serving ``workspace`` over MCP: ``/mcp/<percent-encoded name>``."""
    return f"{MCP_PATH}/{quote(workspace, safe='')}"


class _Served:
    """One workspace's MCP server and the task that runs its session manager."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self.ready = asyncio.Event()
        self.stop = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None
        self.error: BaseException | None = None

    async def run(self) -> None:
        try:
            async with self.manager.run():
                self.ready.set()
                await self.stop.wait()
        except Exception as exc:  # reported to the request that waits for ready
            self.error = exc
        finally:
            self.ready.set()


class WorkspaceMCP:
    """The ASGI app behind ``/mcp`` and ``/mcp/{workspace}`` (see the module docstring).

    Args:
        app: the :class:`~flowai_nb.FlowAIApp` whose workspaces it serves.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._served: dict[str, _Served] = {}
        self._open = False

    def paths(self) -> dict[str, str]:
        """Each workspace's MCP path, in declaration order (the default one is also ``/mcp``)."""
        return {w.name: mcp_path(w.name) for w in self.app.workspaces}

    def routes(self) -> list[Any]:
        """The Starlette routes to add to Studio's app."""
        from starlette.routing import Route

        return [Route(MCP_PATH, endpoint=self), Route(MCP_PATH + "/{workspace}", endpoint=self)]

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Serve while entered; on exit stop every workspace's session manager."""
        self._open = True
        try:
            yield
        finally:
            self._open = False
            served = [s for s in self._served.values() if s.task is not None]
            for entry in served:
                entry.stop.set()
            if served:
                done, pending = await asyncio.wait([s.task for s in served], timeout=5)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*done, *pending, return_exceptions=True)
            self._served.clear()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = scope.get("path_params", {}).get("workspace")
        if name is None:
            name = self.app.default_workspace
        elif name not in {w.name for w in self.app.workspaces}:
            await _answer(send, 404, f"no workspace {name!r} in app {self.app.name!r}",
                          workspaces=self.paths())
            return
        if not self._open:
            await _answer(send, 503, "Studio's MCP endpoint is not running (it starts and "
                                     "stops with the Studio server)")
            return
        try:
            entry = await self._entry(name, scope)
        except Exception as exc:  # the workspace's runtime (or its MCP server) cannot start
            await _answer(send, 503, f"workspace {name!r} cannot serve MCP: its runtime failed "
                                     f"to start: {type(exc).__name__}: {exc}")
            return
        await entry.manager.handle_request(scope, receive, send)

    async def _entry(self, name: str, scope: dict[str, Any]) -> _Served:
        entry = self._served.get(name)
        if entry is None:
            entry = self._served[name] = _Served(self._manager(name, scope))
            entry.task = asyncio.ensure_future(entry.run())
        await entry.ready.wait()
        if entry.error is not None:
            self._served.pop(name, None)
            raise entry.error
        return entry

    def _manager(self, name: str, scope: dict[str, Any]) -> Any:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        from ..mcp import RuntimeMCPServer

        runtime = _runtime(self.app, name, scope)
        served = RuntimeMCPServer(runtime, name=f"flowai_nb:{self.app.name}:{name}")
        # Studio's guard checks Host and Origin (and the token) before any request gets here.
        return StreamableHTTPSessionManager(
            served.server,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))


def _runtime(app: Any, name: str, scope: dict[str, Any]) -> Any:
    """The workspace's runtime, through Studio's state when there is one (so the runs MCP
    starts show up in the UI live)."""
    studio = getattr(getattr(scope.get("app"), "state", None), "studio", None)
    return studio.runtime(name) if studio is not None else app.runtime(name)


async def _answer(send: Any, status: int, message: str, **extra: Any) -> None:
    body = json.dumps({"error": message, "status": status, **extra}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
