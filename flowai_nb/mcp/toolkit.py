"""Toolkits served by an external MCP server (SPEC §13, consuming).

``ToolkitSpec(id="github", config={"mcp": {"command": ["github-mcp"], "env": {...}}})``
or ``config={"mcp": {"url": "http://127.0.0.1:8848/mcp", "headers": {...}}}``
gives an agent the server's tools. They run through the agent's approval
policies like any tool (a per-tool policy names one as ``"github.create_issue"``)
and are traced like any tool.

The server is started on first use (when an agent that has the toolkit first
needs its tool list) and closed with the runtime. The connection lives on a
private thread with its own event loop, so it outlives any one ``asyncio.run``
and a notebook's loop is never blocked by a call. A server that dies mid-call
is a tool error naming it; the next call starts it again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["MCPConnection", "MCPToolError", "parse_config"]

_START_TIMEOUT_S = 60.0
_CALL_TIMEOUT_S = 300.0


class MCPToolError(RuntimeError):
    """A call to an external MCP server failed (tool error, server gone, timeout)."""


def parse_config(toolkit_id: str, config: Any) -> dict[str, Any]:
    """Validate ``config["mcp"]``; raise ``ValueError`` naming the toolkit and the field."""
    where = f"toolkit {toolkit_id!r}: config['mcp']"
    if not isinstance(config, Mapping):
        raise ValueError(f"{where} must be a mapping with 'command' or 'url'; got {config!r}")
    unknown = set(config) - {"command", "env", "cwd", "url", "headers", "timeout"}
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {sorted(unknown)}; expected command, env, "
                         f"cwd (stdio) or url, headers (HTTP), and timeout")
    command, url = config.get("command"), config.get("url")
    if (command is None) == (url is None):
        raise ValueError(f"{where} needs exactly one of 'command' (a list of strings) or "
                         f"'url' (http:// or https://)")
    parsed: dict[str, Any] = {"timeout": _CALL_TIMEOUT_S}
    if command is not None:
        if isinstance(command, str) or not isinstance(command, list | tuple) or not command \
                or not all(isinstance(part, str) and part for part in command):
            raise ValueError(f"{where}['command'] must be a non-empty list of strings, e.g. "
                             f"['python', '-m', 'server']; got {command!r}")
        parsed["command"] = list(command)
        parsed["env"] = _strings(config.get("env"), f"{where}['env']")
        cwd = config.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ValueError(f"{where}['cwd'] must be a string; got {cwd!r}")
        parsed["cwd"] = cwd
        if "headers" in config:
            raise ValueError(f"{where}: 'headers' goes with 'url', not 'command'")
    else:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"{where}['url'] must start with http:// or https://; got {url!r}")
        parsed["url"] = url
        parsed["headers"] = _strings(config.get("headers"), f"{where}['headers']")
        if "env" in config or "cwd" in config:
            raise ValueError(f"{where}: 'env' and 'cwd' go with 'command', not 'url'")
    timeout = config.get("timeout", _CALL_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"{where}['timeout'] must be a positive number of seconds; "
                         f"got {timeout!r}")
    parsed["timeout"] = float(timeout)
    return parsed


def _strings(value: Any, where: str) -> dict[str, str]:
    """A str -> str mapping; secret values (pydantic ``SecretStr``) are unwrapped here, at
    the last moment, and never appear in the error messages."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must map strings to strings; got {type(value).__name__}")
    plain = {k: v.get_secret_value() if hasattr(v, "get_secret_value") else v
             for k, v in value.items()}
    bad = sorted(str(k) for k, v in plain.items() if not isinstance(k, str)
                 or not isinstance(v, str))
    if bad:
        raise ValueError(f"{where} must map strings to strings; the value(s) of {bad} are not")
    return plain


class MCPConnection:
    """A client session to one external MCP server, opened on first use.

    Args:
        toolkit_id: the toolkit's id (names the server in errors).
        config: the toolkit's ``config["mcp"]`` (see :func:`parse_config`).
    """

    def __init__(self, toolkit_id: str, config: Any) -> None:
        self.toolkit_id = toolkit_id
        self.config = parse_config(toolkit_id, config)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: Any = None
        self._owner: concurrent.futures.Future[Any] | None = None
        self._stop: asyncio.Event | None = None
        self._tools: list[dict[str, Any]] | None = None
        self._closed = False
        self._refused: str | None = None  # the last HTTP refusal (401, 403, 421...)

    def __repr__(self) -> str:
        target = self.config.get("url") or " ".join(self.config["command"])
        state = "closed" if self._closed else \
            "connected" if self._session is not None else "not started"
        return f"<MCPConnection {self.toolkit_id!r} {target} {state}>"

    # -- lifecycle ---------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_run_loop, args=(loop,), daemon=True,
                                      name=f"flowai-mcp-{self.toolkit_id}")
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    def _connect(self) -> Any:
        """The live session, starting the server if needed (blocks until initialized)."""
        with self._lock:
            if self._closed:
                raise MCPToolError(f"toolkit {self.toolkit_id!r}: the runtime was closed")
            if self._session is not None and self._owner is not None \
                    and not self._owner.done():
                return self._session
            self._session = None
            loop = self._ensure_loop()
            ready: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self._owner = asyncio.run_coroutine_threadsafe(self._own(ready), loop)
            try:
                self._session = ready.result(_START_TIMEOUT_S)
            except concurrent.futures.TimeoutError:
                self._owner.cancel()
                raise MCPToolError(f"toolkit {self.toolkit_id!r}: the MCP server did not "
                                   f"answer within {_START_TIMEOUT_S:.0f} s") from None
            except Exception as exc:
                refused = f" ({self._refused})" if self._refused else ""
                raise MCPToolError(f"toolkit {self.toolkit_id!r}: cannot start the MCP server "
                                   f"({self._describe()}): {_reason(exc)}{refused}") from None
            return self._session

    async def _own(self, ready: concurrent.futures.Future[Any]) -> None:
        """Open the transport and session, publish the session, hold it until closed."""
        from mcp import ClientSession

        self._stop = asyncio.Event()
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                ready.set_result(session)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception)
                                    else MCPToolError("cancelled"))
            if not isinstance(exc, Exception):
                raise

    @contextlib.asynccontextmanager
    async def _transport(self) -> Any:
        config = self.config
        if "command" in config:
            from mcp import StdioServerParameters, stdio_client

            command, *args = config["command"]
            params = StdioServerParameters(command=command, args=args,
                                           env={**os.environ, **config["env"]},
                                           cwd=config["cwd"])
            async with stdio_client(params) as streams:
                yield streams[0], streams[1]
        else:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            async def note_refusal(response: Any) -> None:
                if response.status_code >= 400:
                    self._refused = f"HTTP {response.status_code} from {config['url']}"

            http = httpx2.AsyncClient(headers=config["headers"],
                                      timeout=httpx2.Timeout(30, read=config["timeout"]),
                                      event_hooks={"response": [note_refusal]})
            async with http, streamable_http_client(config["url"], http_client=http) as streams:
                yield streams[0], streams[1]

    def close(self) -> None:
        """Close the session and stop the server process (idempotent).

        Called from a thread that runs an event loop (a notebook cell), it does not wait:
        that loop may be the one serving the other end, as when a notebook consumes
        its own server. Elsewhere it waits until the server is stopped.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._session = None
            loop, thread, owner, stop = self._loop, self._thread, self._owner, self._stop
        if loop is None:
            return

        async def shutdown() -> None:
            if stop is not None:
                stop.set()
            if owner is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(asyncio.wrap_future(owner), 10)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if thread is not None:
                thread.join(15)

    # -- tools -------------------------------------------------------------------------
    def tools(self) -> list[dict[str, Any]]:
        """The server's tools as ``{name, description, input_schema}`` (listed once)."""
        if self._tools is None:
            session = self._connect()
            result = self._run(session.list_tools(), 30, "list its tools")
            self._tools = [{"name": tool.name, "description": tool.description or "",
                            "input_schema": tool.input_schema or {"type": "object"}}
                           for tool in result.tools]
        return self._tools

    async def call(self, tool: str, args: Mapping[str, Any]) -> Any:
        """Call ``tool``; returns its structured result (or its text).

        Raises:
            MCPToolError: the tool reported an error, the server died or timed out.
        """
        session = await asyncio.get_running_loop().run_in_executor(None, self._connect)
        assert self._loop is not None and self._owner is not None
        owner = asyncio.wrap_future(self._owner)
        call = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
            session.call_tool(tool, dict(args)), self._loop))
        done, _ = await asyncio.wait({call, owner}, timeout=self.config["timeout"],
                                     return_when=asyncio.FIRST_COMPLETED)
        if call not in done:
            call.cancel()
            if owner in done:
                self._drop(session)
                raise MCPToolError(f"the MCP server of toolkit {self.toolkit_id!r} "
                                   f"({self._describe()}) stopped during the call to {tool}; "
                                   f"the next call starts it again")
            raise MCPToolError(f"the call to {tool} on toolkit {self.toolkit_id!r} timed out "
                               f"after {self.config['timeout']:.0f} s")
        try:
            result = call.result()
        except Exception as exc:
            self._drop(session)
            raise MCPToolError(f"the call to {tool} on toolkit {self.toolkit_id!r} "
                               f"({self._describe()}) failed: {_reason(exc)}; the next call "
                               f"reconnects") from None
        text = "\n".join(block.text for block in result.content
                         if getattr(block, "type", None) == "text")
        if result.is_error:
            raise MCPToolError(text or f"{tool} reported an error")
        if result.structured_content is not None:
            return result.structured_content
        return text

    def _drop(self, session: Any) -> None:
        """Forget a broken session (its server died, or the transport failed)."""
        with self._lock:
            if self._session is not session:
                return
            self._session = None
            if self._loop is not None and self._stop is not None:
                self._loop.call_soon_threadsafe(self._stop.set)

    def _run(self, coro: Any, timeout: float, what: str) -> Any:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise MCPToolError(f"toolkit {self.toolkit_id!r}: the MCP server did not {what} "
                               f"within {timeout:.0f} s") from None
        except Exception as exc:
            raise MCPToolError(f"toolkit {self.toolkit_id!r}: the MCP server failed to {what}: "
                               f"{_reason(exc)}") from None

    def _describe(self) -> str:
        return self.config.get("url") or " ".join(self.config["command"])


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


def _reason(exc: BaseException) -> str:
    """The innermost useful message of an exception (task groups wrap them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
