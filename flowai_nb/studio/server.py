"""``flowai-nb studio``: serve a FlowAIApp's Studio with uvicorn on 127.0.0.1."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import socket
import sys
import threading
import webbrowser
from typing import Any

__all__ = ["StudioServer", "add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``flowai-nb studio``."""
    parser.add_argument("app", metavar="APP",
                        help="the app to serve, as module:attribute (a FlowAIApp or a Runtime)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1; anything else exposes "
                             "Studio to your network)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks "
                                                              "a free one)")
    parser.add_argument("--token", default=None,
                        help="access token (default: a new random one, printed with the URL)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")


class StudioServer:
    """A running Studio: uvicorn serving :func:`create_studio_app` for one app.

    ``await server.start()`` returns once it listens (``server.url`` and
    ``server.login_url`` are then set); ``await server.stop()`` ends it.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 8765,
                 token: str | None = None) -> None:
        from ._security import check_token
        from .web import create_studio_app

        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer from 0 to 65535, got {port!r}")
        check_token(token)
        self.app = app
        self.host = host
        self.token = token or secrets.token_urlsafe(24)
        hosts = {"127.0.0.1", "localhost", "::1", host}
        if host in ("0.0.0.0", "::"):
            hosts |= {socket.gethostname(), socket.getfqdn()}
        self.asgi = create_studio_app(app, token=self.token, hosts=hosts, mcp=True)
        self.mcp = bool(self.asgi.mcp_paths)
        """Whether MCP is served (the MCP extra is installed); see :attr:`mcp_urls`."""
        self.port = port
        self._server: Any = None
        self._task: asyncio.Task[Any] | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL (no token)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    @property
    def mcp_urls(self) -> dict[str, str]:
        """Each workspace's MCP endpoint (``<url>mcp/<workspace>``; ``<url>mcp`` also serves
        the default workspace); empty when the MCP extra is not installed."""
        return {name: self.url + path.lstrip("/") for name, path in self.asgi.mcp_paths.items()}

    @property
    def login_url(self) -> str:
        """The URL that logs a browser in (sets the cookie) and opens the UI."""
        return f"{self.url}login?token={self.token}"

    def _config(self) -> Any:
        import uvicorn

        return uvicorn.Config(self.asgi, host=self.host, port=self.port, access_log=False,
                              log_level="warning", lifespan="on", timeout_graceful_shutdown=3)

    async def start(self) -> None:
        """Start serving on the running loop; return once the socket listens."""
        import uvicorn

        self._server = uvicorn.Server(self._config())
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.get_running_loop().create_task(self._serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("Studio stopped before it started listening")
            await asyncio.sleep(0.02)
        sockets = [s for server in self._server.servers for s in server.sockets]
        self.port = sockets[0].getsockname()[1]

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit:  # uvicorn exits the process when it cannot bind
            raise OSError(f"Studio cannot listen on {self.host}:{self.port} (is the port in "
                          f"use?); pick another port (0 picks a free one)") from None

    async def stop(self) -> None:
        """Stop serving (open event streams are closed)."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    def start_in_thread(self, timeout: float = 30.0) -> StudioServer:
        """Serve on a loop of its own in a daemon thread (from a notebook or a script);
        return once it listens. Raises what :meth:`start` raised, or ``TimeoutError``."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)
            started.set()
            if not failure:
                loop.run_until_complete(self._task)  # type: ignore[arg-type]
                for task in asyncio.all_tasks(loop):  # sse-starlette's shutdown watcher
                    task.cancel()
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="flowai-studio", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise TimeoutError(f"Studio did not start listening within {timeout:g} s")
        if failure:
            raise failure[0]
        return self

    def stop_thread(self, timeout: float = 15.0) -> None:
        """Stop a server started with :meth:`start_in_thread` and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __repr__(self) -> str:
        return f"<StudioServer {self.url} app={self.app.name!r}>"


async def _serve(args: argparse.Namespace) -> int:
    from ..app import load_app

    app = load_app(args.app)
    server = StudioServer(app, host=args.host, port=args.port, token=args.token)
    try:
        await server.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
              "pick another --port (0 picks a free one)", file=sys.stderr)
        return 2
    print(f"flowai_nb Studio for {app.name!r} ({len(app.workspaces)} workspace(s))")
    print(f"  open: {server.login_url}", flush=True)
    if server.mcp:
        print("  MCP (Streamable HTTP; send the login URL's token as 'Authorization: Bearer "
              "<token>'):")
        for name, url in server.mcp_urls.items():
            also = f" (also {server.url}mcp)" if name == app.default_workspace else ""
            print(f"    workspace {name!r}: {url}{also}", flush=True)
    else:
        print("  MCP: not served (pip install 'flowai_nb[mcp]' to serve every workspace at "
              f"{server.url}mcp/<workspace>)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"  warning: listening on {args.host}: anyone who can reach it and has the "
              "token can run agents", file=sys.stderr)
    if not args.no_browser:
        webbrowser.open(server.login_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread / Windows
            pass
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait([waiter, server._task], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    await server.stop()
    app.close()
    return 0


def main(args: argparse.Namespace) -> int:
    """Run ``flowai-nb studio`` with parsed ``args`` until Ctrl-C."""
    try:
        return asyncio.run(_serve(args))
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
