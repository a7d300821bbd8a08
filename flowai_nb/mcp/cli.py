"""``flowai-nb mcp APP``: serve an app's workspace runtime to MCP clients.

Point Claude Desktop (or any MCP client) at ``flowai-nb mcp app:app`` for stdio,
or run ``flowai-nb mcp app:app --http --port 8848`` and connect to the printed URL.
The bearer token may come from ``--token`` or the ``FLOWAI_NB_MCP_TOKEN``
environment variable (which, unlike an argument, other users cannot see in ``ps``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

__all__ = ["add_arguments", "main", "TOKEN_ENV"]

TOKEN_ENV = "FLOWAI_NB_MCP_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``mcp`` command's arguments to ``parser``."""
    parser.add_argument("app", metavar="APP",
                        help="module:attribute naming a FlowAIApp or a Runtime (e.g. app:app)")
    parser.add_argument("--workspace", metavar="NAME",
                        help="the app's workspace to serve (default: its first)")
    parser.add_argument("--http", action="store_true",
                        help="serve Streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1",
                        help="HTTP: address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8848,
                        help="HTTP: port (default 8848; 0 picks a free one)")
    parser.add_argument("--token", default=None,
                        help=f"HTTP: require 'Authorization: Bearer TOKEN' (or set {TOKEN_ENV})")
    parser.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="hold a call waiting for approval open this long before answering "
                             "pending_approval (default 50)")


def main(args: argparse.Namespace) -> int:
    """Run the ``mcp`` command; returns the exit status."""
    from ..app import load_app

    try:
        app = load_app(args.app, workspace=args.workspace)
        runtime = app.runtime(args.workspace)
    except (ValueError, TypeError, KeyError) as exc:
        print(f"flowai-nb mcp: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    token = args.token or os.environ.get(TOKEN_ENV) or None
    try:
        if args.http:
            asyncio.run(_serve_http(runtime, args.host, args.port, token, args.wait))
        else:
            asyncio.run(runtime.serve_mcp_stdio(mcp_wait_s=args.wait))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"flowai-nb mcp: {exc}", file=sys.stderr)
        return 1
    finally:
        app.close()
    return 0


async def _serve_http(runtime: Any, host: str, port: int, token: str | None,
                      wait: float | None) -> None:
    handle = await runtime.serve_mcp_http(host, port, token, mcp_wait_s=wait)
    auth = " (bearer token required)" if token else ""
    print(f"flowai-nb mcp: serving {handle.url}{auth}; Ctrl+C stops", file=sys.stderr,
          flush=True)
    try:
        await asyncio.shield(handle._task)
    finally:
        await handle.stop()
