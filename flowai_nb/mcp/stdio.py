"""Serve a runtime over MCP on stdin / stdout (what ``flowai-nb mcp APP`` runs)."""

from __future__ import annotations

from typing import Any

from .server import DEFAULT_MCP_WAIT_S, RuntimeMCPServer

__all__ = ["serve_stdio"]


async def serve_stdio(runtime: Any, *, mcp_wait_s: float = DEFAULT_MCP_WAIT_S,
                      approvals: Any = None) -> None:
    """Serve ``runtime`` on this process's stdin / stdout until the client disconnects.

    While serving, file descriptor 1 points at stderr, so a stray ``print`` in a
    tool cannot corrupt the protocol.
    """
    from mcp.server.stdio import stdio_server

    served = RuntimeMCPServer(runtime, mcp_wait_s=mcp_wait_s, approvals=approvals)
    async with stdio_server() as (read, write):
        await served.server.run(read, write, served.server.create_initialization_options())
