"""Studio's guard: Host and Origin checks, the access token, and security headers.

A pure ASGI middleware (so Server-Sent Events stream through unbuffered):

- ``Host`` must name an allowed host (loopback names by default): anything else
  is a DNS-rebinding attempt and gets **421**;
- a request with an ``Origin`` (or ``Sec-Fetch-Site: cross-site``) from
  another site gets **403**;
- ``/api/...``, ``/mcp`` and ``/mcp/<workspace>`` need the token, as ``Authorization:
  Bearer T``, the ``X-FlowAI-Token`` header, or the HttpOnly ``SameSite=Strict`` cookie that
  ``/login?token=T`` sets: otherwise **401**;
- every response carries a CSP with ``frame-ancestors 'none'``, ``nosniff`` and
  ``no-referrer``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["COOKIE", "Guard", "LOOPBACK_HOSTS", "check_token"]

COOKIE = "flowai_studio"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
_HEADERS = [(b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY")]
_PROTECTED = ("/api", "/mcp")

ASGIApp = Callable[[dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]],
                   Awaitable[None]]


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8765
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def check_token(token: str | None) -> None:
    """Refuse a token too short to keep anyone out (``None`` means no token check)."""
    if token is not None and (not isinstance(token, str) or len(token) < 8):
        raise ValueError("the Studio token must be a string of at least 8 characters")


class Guard:
    """Wrap ``app`` with the checks above.

    Args:
        app: the ASGI app to protect.
        token: the access token; ``None`` turns the token check off (used behind
            Jupyter Server, whose own login protects the route).
        hosts: host names (no port) the ``Host`` header may name; ``None`` leaves the
            Host check to the server in front (Jupyter Server checks it).
    """

    def __init__(self, app: ASGIApp, *, token: str | None,
                 hosts: Iterable[str] | None = LOOPBACK_HOSTS) -> None:
        check_token(token)
        self.app = app
        self.token = token
        self.hosts = None if hosts is None else {h.lower().strip("[]") for h in hosts}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):] or "/"
        host = headers.get("host", "")
        if self.hosts is not None and _hostname(host) not in self.hosts:
            await _refuse(send, 421, f"Studio does not answer for host {host!r}; open it as "
                                     "http://127.0.0.1:<port>/ (or start it with --host)")
            return
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            parts = urlsplit(origin)
            if parts.netloc.lower() != host.lower():
                await _refuse(send, 403, f"cross-origin request from {origin!r} refused")
                return
        elif origin == "null" or headers.get("sec-fetch-site") == "cross-site":
            await _refuse(send, 403, "cross-site request refused")
            return
        if path == "/login":
            await self._login(scope, send, root)
            return
        if self.token is not None and path.startswith(_PROTECTED) and not self._authorized(
                headers):
            await _refuse(send, 401, "a Studio token is required: open the login URL that "
                                     "`flowai-nb studio` printed, or send 'Authorization: "
                                     "Bearer <token>'")
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _authorized(self, headers: dict[str, str]) -> bool:
        assert self.token is not None
        offered = []
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            offered.append(auth[7:].strip())
        if "x-flowai-token" in headers:
            offered.append(headers["x-flowai-token"])
        if "cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:  # a malformed cookie header is just no token
                cookie = SimpleCookie()
            if COOKIE in cookie:
                offered.append(cookie[COOKIE].value)
        return any(hmac.compare_digest(t.encode(), self.token.encode()) for t in offered)

    async def _login(self, scope: dict[str, Any], send: Any, root: str) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get("token") or [""])[0]
        if self.token is None or (given and hmac.compare_digest(given.encode(),
                                                                self.token.encode())):
            cookie = (f"{COOKIE}={self.token or ''}; HttpOnly; SameSite=Strict; "
                      f"Path={root or '/'}")
            await send({"type": "http.response.start", "status": 303, "headers": [
                (b"location", f"{root}/".encode()), (b"set-cookie", cookie.encode()),
                (b"cache-control", b"no-store"), *_HEADERS]})
            await send({"type": "http.response.body", "body": b""})
            return
        await _refuse(send, 401, "wrong or missing token in the login URL")


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        *_HEADERS]})
    await send({"type": "http.response.body", "body": body})
