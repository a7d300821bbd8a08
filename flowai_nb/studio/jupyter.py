"""Studio inside Jupyter Server, at ``<base_url>flowai-studio/``, behind Jupyter's own login.

Enabled by ``jupyter-config/jupyter_server_config.d/flowai_nb.json`` (installed
with the package). Which app it serves comes from the environment variable
``FLOWAI_STUDIO_APP`` or the server config ``c.FlowAIStudio.app`` (both
``module:attribute``, as for ``flowai-nb studio``); until one is set the route
explains how. The app is imported on the first request, so the extension costs
nothing at server start.

The bridge hands each Tornado request to the Starlette app as ASGI: the body as
one ``http.request``, ``http.disconnect`` when the browser goes away, and every
body chunk flushed at once (Server-Sent Events stream through). The server
process is not a kernel: runs started in notebooks reach this page through the
store they share with the app.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

__all__ = ["ROUTE", "StudioLink", "studio_link", "studio_url"]

ROUTE = "flowai-studio"
_ENV = "FLOWAI_STUDIO_APP"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "flowai_nb.studio.jupyter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    web_app = serverapp.web_app
    base = web_app.settings["base_url"]
    config = serverapp.config.get("FlowAIStudio", {})
    target = os.environ.get(_ENV) or config.get("app")
    holder = _AppHolder(target, url_path_join(base, ROUTE).rstrip("/"))
    pattern = url_path_join(base, ROUTE) + "(?P<path>.*)"
    web_app.add_handlers(".*$", [(pattern, _handler_class(), {"holder": holder})])
    serverapp.log.info("flowai_nb Studio at %s%s/ (app: %s)", base, ROUTE,
                       target or f"not set; set {_ENV}=module:attribute")


class _AppHolder:
    """Builds the Studio ASGI app on first use."""

    def __init__(self, target: str | None, root_path: str) -> None:
        self.target = target
        self.root_path = root_path
        self._asgi: Any = None

    def asgi(self) -> Any:
        if self._asgi is None:
            from ..app import load_app
            from .web import create_studio_app

            self._asgi = create_studio_app(load_app(self.target), token=None, hosts=None)
        return self._asgi


def _handler_class() -> type:
    from jupyter_server.base.handlers import JupyterHandler
    from tornado import web

    class StudioBridge(JupyterHandler):
        """Tornado handler that serves the Studio ASGI app."""

        def initialize(self, holder: _AppHolder) -> None:
            self.holder = holder
            self._gone = asyncio.Event()

        def on_connection_close(self) -> None:
            self._gone.set()

        @web.authenticated
        async def get(self, path: str) -> None:
            _ = self.xsrf_token  # sets the _xsrf cookie the page echoes on POSTs
            await self._serve(path)

        @web.authenticated
        async def post(self, path: str) -> None:
            await self._serve(path)

        async def _serve(self, path: str) -> None:
            if not self.holder.target:
                self.set_status(503)
                self.set_header("Content-Type", "text/plain; charset=utf-8")
                self.finish(f"flowai_nb Studio has no app to serve: start Jupyter with "
                            f"{_ENV}=module:attribute (a FlowAIApp), or set "
                            "c.FlowAIStudio.app in jupyter_server_config.py\n")
                return
            if path == "" and not self.request.path.endswith("/"):
                self.redirect(self.request.path + "/")
                return
            try:
                app = self.holder.asgi()
            except Exception as exc:  # a broken app module: say which and why
                self.set_status(500)
                self.set_header("Content-Type", "text/plain; charset=utf-8")
                self.finish(f"flowai_nb Studio cannot load {self.holder.target!r}: "
                            f"{type(exc).__name__}: {exc}\n")
                return
            await app(self._scope(), self._receive, self._send)
            if not self._finished:
                self.finish()

        def _scope(self) -> dict[str, Any]:
            request = self.request
            host, _, port = request.host.partition(":")
            return {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": request.method, "scheme": request.protocol,
                "path": request.path, "raw_path": request.path.encode(),
                "root_path": self.holder.root_path,
                "query_string": request.query.encode("latin-1"),
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                            for k, v in request.headers.get_all()],
                "client": (request.remote_ip, 0),
                "server": (host, int(port) if port.isdigit() else 80),
            }

        _sent_body = False

        async def _receive(self) -> dict[str, Any]:
            if not self._sent_body:
                self._sent_body = True
                return {"type": "http.request", "body": self.request.body or b"",
                        "more_body": False}
            await self._gone.wait()
            return {"type": "http.disconnect"}

        async def _send(self, message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.set_status(message["status"])
                self.clear_header("Content-Type")
                for key, value in message.get("headers", []):
                    name = key.decode("latin-1")
                    if name.lower() == "content-length":
                        continue
                    if name.lower() == "set-cookie":
                        self.add_header(name, value.decode("latin-1"))
                    else:
                        self.set_header(name, value.decode("latin-1"))
            elif message["type"] == "http.response.body":
                if self._gone.is_set():
                    return
                self.write(message.get("body", b""))
                if message.get("more_body"):
                    try:
                        await self.flush()
                    except Exception:  # the browser went away mid-stream
                        self._gone.set()
                else:
                    self.finish()

    return StudioBridge


def studio_url() -> str | None:
    """The Studio URL of the Jupyter server this kernel belongs to, if one is found.

    Looks through the running servers for the one whose root directory holds
    the current directory (the notebook's folder); ``None`` when there is none.
    """
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None
    here = os.path.realpath(os.getcwd())
    best: tuple[int, str] | None = None
    for server in list_running_servers():
        root = os.path.realpath(server.get("root_dir") or server.get("notebook_dir") or "")
        if root and (here == root or here.startswith(root.rstrip(os.sep) + os.sep)):
            if best is None or len(root) > best[0]:
                best = (len(root), server["url"])
    return None if best is None else best[1].rstrip("/") + f"/{ROUTE}/"


class StudioLink:
    """What ``%flowai_studio`` shows: a link to Studio in this Jupyter server."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def __repr__(self) -> str:
        if self.url is None:
            return ("flowai_nb Studio: no Jupyter server found for this kernel; run "
                    "`flowai-nb studio module:app` in a terminal instead")
        return f"flowai_nb Studio: {self.url}"

    def _repr_html_(self) -> str:
        import html

        if self.url is None:
            return f"<span>{html.escape(repr(self))}</span>"
        url = html.escape(self.url, quote=True)
        return (f'<a href="{url}" target="_blank" rel="noopener">Open flowai_nb Studio</a> '
                f"<code>{url}</code>")


def studio_link() -> StudioLink:
    """The link ``%flowai_studio`` displays (see :func:`studio_url`)."""
    return StudioLink(studio_url())
