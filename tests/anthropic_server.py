"""A local stand-in for the Anthropic Messages API, for tests with the real SDK.

``MessagesServer`` listens on 127.0.0.1 and answers ``POST /v1/messages``
from a script of responses, one per request, in order. It speaks the real
wire format: a JSON ``Message`` when ``stream`` is false, and otherwise
server-sent events over chunked HTTP (``message_start``,
``content_block_start/delta/stop`` with ``text_delta``, ``thinking_delta``,
``signature_delta`` and ``input_json_delta``, ``ping``, ``message_delta`` with
usage, ``message_stop``). Every request is recorded (path, headers, JSON body,
arrival time) so tests can assert what the SDK sent.

A scripted response is a dict:

- a message: any of ``text`` (str, or list of deltas), ``thinking`` (same),
  ``tool`` + ``args`` (one call) or ``tools`` (``[{"tool", "args", "id"?}]``);
  ``raw_args`` instead of ``args`` is streamed verbatim as the input JSON;
  ``usage`` (Messages API usage keys), ``stop_reason``;
- stream faults, combined with a message: ``drop_after`` (close the socket
  after that many events), ``end_after`` (end the body cleanly after that
  many events, no ``message_stop``), ``delay`` (seconds before each event),
  ``sse_error`` (``{"type", "message"}`` sent as an ``error`` event after
  ``message_start``);
- an HTTP error: ``status`` with ``error`` (``{"type", "message"}``) and
  optional ``headers`` (for example ``{"retry-after": "1"}``).

A request that finds the script empty gets a 500 with ``x-should-retry:
false``, so a test that under-scripts fails loudly instead of retrying.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MessagesServer"]

_DEFAULT_USAGE = {"input_tokens": 25, "output_tokens": 7}


def _pieces(value: str | list[str]) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


def _split(text: str, parts: int = 3) -> list[str]:
    """``text`` in about ``parts`` chunks, so input JSON arrives in several deltas."""
    size = max(1, -(-len(text) // parts))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


class MessagesServer:
    """A scripted Messages API server on 127.0.0.1 (see the module doc).

    Attributes:
        requests: every request received: ``{"path", "headers", "body", "at"}``.
        client_closed: set when a client closes a connection mid-stream.
    """

    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key  # accepted as x-api-key or as a Bearer token
        self.requests: list[dict[str, Any]] = []
        self.client_closed = threading.Event()
        self._script: deque[dict[str, Any]] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> MessagesServer:
        """Start serving in a background thread; returns ``self``."""
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True,
                         name="anthropic-test-server").start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        """The base URL to give the SDK (``http://127.0.0.1:<port>``)."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- script -------------------------------------------------------------

    def script(self, *responses: dict[str, Any]) -> None:
        """Queue responses, answered one per request in order."""
        with self._lock:
            self._script.extend(responses)

    @property
    def remaining(self) -> int:
        """How many scripted responses are still unanswered."""
        return len(self._script)

    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the ``/v1/messages`` requests received, in order."""
        return [r["body"] for r in self.requests if r["path"] == "/v1/messages"]

    def _next(self) -> dict[str, Any] | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def _tool_id(self) -> str:
        return f"toolu_{next(self._ids):04d}"

    # -- message building ---------------------------------------------------

    def _content(self, spec: dict[str, Any]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if "thinking" in spec:
            blocks.append({"type": "thinking", "thinking": _pieces(spec["thinking"]),
                           "signature": f"sig-{next(self._ids)}"})
        if "text" in spec:
            blocks.append({"type": "text", "text": _pieces(spec["text"])})
        calls = list(spec.get("tools", []))
        if "tool" in spec:
            calls.insert(0, {k: v for k, v in spec.items() if k in ("tool", "args", "raw_args")})
        for call in calls:
            blocks.append({"type": "tool_use", "id": call.get("id") or self._tool_id(),
                           "name": call["tool"],
                           "input": call.get("raw_args", call.get("args", {}))})
        return blocks

    def message(self, spec: dict[str, Any], model: str) -> dict[str, Any]:
        """The non-streaming ``Message`` for a scripted response."""
        content = []
        for block in self._content(spec):
            if block["type"] == "text":
                block = {**block, "text": "".join(block["text"])}
            elif block["type"] == "thinking":
                block = {**block, "thinking": "".join(block["thinking"])}
            content.append(block)
        stop = spec.get("stop_reason") or (
            "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn")
        return {"id": f"msg_{next(self._ids)}", "type": "message", "role": "assistant",
                "model": model, "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": {**_DEFAULT_USAGE, **spec.get("usage", {})}}

    def events(self, spec: dict[str, Any], model: str) -> list[tuple[str, dict[str, Any]]]:
        """The SSE events ``(name, data)`` of a scripted streaming response."""
        usage = {**_DEFAULT_USAGE, **spec.get("usage", {})}
        start_usage = {k: v for k, v in usage.items() if k != "output_tokens"}
        out: list[tuple[str, dict[str, Any]]] = [("message_start", {
            "type": "message_start",
            "message": {"id": f"msg_{next(self._ids)}", "type": "message", "role": "assistant",
                        "model": model, "content": [], "stop_reason": None,
                        "stop_sequence": None, "usage": {**start_usage, "output_tokens": 1}},
        })]
        if "sse_error" in spec:
            out.append(("error", {"type": "error", "error": spec["sse_error"]}))
        out.append(("ping", {"type": "ping"}))
        content = self._content(spec)
        for index, block in enumerate(content):
            kind = block["type"]
            if kind == "text":
                start: dict[str, Any] = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": t} for t in block["text"]]
            elif kind == "thinking":
                start = {"type": "thinking", "thinking": "", "signature": ""}
                deltas = [{"type": "thinking_delta", "thinking": t} for t in block["thinking"]]
                deltas.append({"type": "signature_delta", "signature": block["signature"]})
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"],
                         "input": {}}
                raw = block["input"]  # a str is sent verbatim (e.g. JSON cut by max_tokens)
                deltas = [{"type": "input_json_delta", "partial_json": p}
                          for p in ["", *_split(raw if isinstance(raw, str) else json.dumps(raw))]]
            out.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": start}))
            out += [("content_block_delta", {"type": "content_block_delta", "index": index,
                                             "delta": d}) for d in deltas]
            out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        stop = spec.get("stop_reason") or (
            "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn")
        out.append(("message_delta", {
            "type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {k: v for k, v in usage.items() if k != "input_tokens"},
        }))
        out.append(("message_stop", {"type": "message_stop"}))
        return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hanging up is normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: MessagesServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _json(self, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", f"req_{id(payload)}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, kind: str, message: str,
               headers: dict[str, str] | None = None) -> None:
        self._json(status, {"type": "error", "error": {"type": kind, "message": message}},
                   headers)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        owner = self.server_owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {"_raw": raw.decode(errors="replace")}
        owner.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                               "body": body, "at": time.monotonic()})
        if self.path.split("?")[0] != "/v1/messages":
            return self._error(404, "not_found_error", f"no route {self.path}")
        if owner.api_key not in (self.headers.get("x-api-key"),
                                 self.headers.get("authorization", "").removeprefix("Bearer ")):
            return self._error(401, "authentication_error", "invalid x-api-key")
        spec = owner._next()
        if spec is None:
            return self._error(500, "api_error", "test server: script exhausted",
                               {"x-should-retry": "false"})
        if "status" in spec:
            error = spec.get("error") or {"type": "api_error", "message": "scripted failure"}
            return self._error(spec["status"], error["type"], error["message"],
                               spec.get("headers"))
        model = body.get("model", "unknown")
        if not body.get("stream"):
            return self._json(200, owner.message(spec, model))
        self._stream(owner.events(spec, model), spec)

    def _stream(self, events: list[tuple[str, dict[str, Any]]], spec: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        limit = spec.get("drop_after", spec.get("end_after"))
        try:
            for n, (name, data) in enumerate(events):
                if limit is not None and n >= limit:
                    break
                if spec.get("delay"):
                    time.sleep(spec["delay"])
                chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            if "drop_after" in spec:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
            self.server_owner.client_closed.set()
