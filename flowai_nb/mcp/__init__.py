"""MCP, both ways (SPEC §13).

Serving: a runtime's tools, ``ask`` (its agents), references and prompts to any
MCP client, over stdio or Streamable HTTP::

    await runtime.serve_mcp_stdio()                  # or: flowai-nb mcp app:app
    server = await runtime.serve_mcp_http(token="s3cret")
    server.url                                       # http://127.0.0.1:PORT/mcp
    await server.stop()

Consuming: ``ToolkitSpec(id="github", config={"mcp": {"command": [...]}})``
gives an agent an external MCP server's tools (see :mod:`flowai_nb.mcp.toolkit`).

This package imports the ``mcp`` SDK (install ``flowai_nb[mcp]``); the engine
imports it only when a runtime starts serving or consuming.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .http import HTTPServerHandle, serve_http
    from .server import DEFAULT_MCP_WAIT_S, RuntimeMCPServer
    from .stdio import serve_stdio

_LAZY = {"HTTPServerHandle": "http", "serve_http": "http", "DEFAULT_MCP_WAIT_S": "server",
         "RuntimeMCPServer": "server", "serve_stdio": "stdio"}

__all__ = ["DEFAULT_MCP_WAIT_S", "HTTPServerHandle", "RuntimeMCPServer", "serve_http",
           "serve_stdio"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowai_nb.mcp' has no attribute {name!r}")
    try:
        value = getattr(import_module(f".{module}", __name__), name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("mcp", "mcp_types", "uvicorn", "starlette"):
            raise ModuleNotFoundError(
                f"MCP needs the optional dependencies: pip install 'flowai_nb[mcp]' "
                f"(missing {exc.name!r})", name=exc.name) from None
        raise
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
