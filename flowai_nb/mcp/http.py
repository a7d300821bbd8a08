"""Serve a runtime over MCP Streamable HTTP, as a task on the running loop.

Security (SPEC §13): binds 127.0.0.1 unless told otherwise; with a token, every
request must carry ``Authorization: Bearer <token>`` (compared in constant
time, never logged); the ``Host`` header must name this server (else 421) and a
browser ``Origin`` must be local (else 403), which stops DNS rebinding.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from typing import Any

from .server import DEFAULT_MCP_WAIT_S, RuntimeMCPServer

__all__ = ["HTTPServerHandle", "serve_http"]

_PATH = "/mcp"


class HTTPServerHandle:
    """A running MCP HTTP server: its :attr:`url`, and :meth:`stop`.

    Usable as an async context manager (``async with await rt.serve_mcp_http() as s:``).
    """

    def __init__(self, url: str, server: Any, task: asyncio.Task[Any],
                 mcp: RuntimeMCPServer) -> None:
        self.url = url
        """The endpoint MCP clients connect to, e.g. ``http://127.0.0.1:8123/mcp``."""
        self.mcp = mcp
        self._server = server
        self._task = task

    @property
    def running(self) -> bool:
        """Whether the server still serves."""
        return not self._task.done()

    async def stop(self) -> None:
        """Stop serving (open calls are cut; their runs stay paused and resumable)."""
        server = self._server
        server.should_exit = True
        done, _ = await asyncio.wait({self._task}, timeout=1)
        if not done:  # calls held open (gates waiting): cut them, then end the lifespan
            server.force_exit = True
            await asyncio.wait({self._task}, timeout=5)
            lifespan = getattr(server, "lifespan", None)
            if lifespan is not None and not lifespan.shutdown_event.is_set():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(lifespan.shutdown(), 5)
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    async def __aenter__(self) -> HTTPServerHandle:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<MCP HTTP server {self.url} {state}>"


class _BearerAuth:
    """ASGI middleware: 401 unless ``Authorization: Bearer <token>`` matches."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            header = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, given = header.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(),
                                                                       self._token):
                from starlette.responses import PlainTextResponse

                response = PlainTextResponse(
                    "missing or wrong bearer token: send 'Authorization: Bearer <token>'",
                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _allowed(host: str, port: int) -> tuple[list[str], list[str]]:
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in ("0.0.0.0", "::", ""):
        names.add(f"[{host}]" if ":" in host else host)
    hosts = sorted(f"{name}:{port}" for name in names)
    origins = sorted(f"{scheme}://{h}" for h in hosts for scheme in ("http", "https"))
    return hosts, origins


async def serve_http(runtime: Any, host: str = "127.0.0.1", port: int = 0,
                     token: str | None = None, *, mcp_wait_s: float = DEFAULT_MCP_WAIT_S,
                     approvals: Any = None, allowed_hosts: list[str] | None = None,
                     allowed_origins: list[str] | None = None) -> HTTPServerHandle:
    """Start serving ``runtime`` over Streamable HTTP; return once it listens.

    Args:
        host, port: where to listen (``port=0`` picks a free port; see the handle's url).
        token: when set, clients must send ``Authorization: Bearer <token>``.
        mcp_wait_s: how long a gated call is held open before answering ``pending_approval``.
        approvals: headless approval policy for the runs it starts.
        allowed_hosts, allowed_origins: extra ``Host`` / ``Origin`` values to accept
            (``"name:port"``, ``"https://name:port"``) when clients reach the server
            through another name, such as a proxy.
    """
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ValueError("token must be a non-empty string or None")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an integer in 0..65535; got {port!r}")
    mcp = RuntimeMCPServer(runtime, mcp_wait_s=mcp_wait_s, approvals=approvals)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    hosts, origins = _allowed(host, bound)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts + list(allowed_hosts or []),
        allowed_origins=origins + list(allowed_origins or []))
    app: Any = mcp.server.streamable_http_app(streamable_http_path=_PATH,
                                              transport_security=security, host=host)
    if token is not None:
        app = _BearerAuth(app, token)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = _KernelFriendlyServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            sock.close()
            task.result()
            raise RuntimeError("the MCP HTTP server stopped while starting")
        await asyncio.sleep(0.01)
    shown = f"[{host}]" if ":" in host else host
    return HTTPServerHandle(f"http://{shown}:{bound}{_PATH}", server, task, mcp)


def _uvicorn_server() -> type:
    import uvicorn

    class KernelFriendlyServer(uvicorn.Server):
        """uvicorn without its signal handlers: a notebook kernel keeps its own SIGINT."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    return KernelFriendlyServer


def _KernelFriendlyServer(config: Any) -> Any:  # noqa: N802 - a lazily built class
    return _uvicorn_server()(config)
