"""MCP ``tools/call`` overhead over stdio and Streamable HTTP (SPEC §13, §17).

One ``echo`` tool, called through the ``mcp`` package's own client:

- flowai_nb: ``flowai-nb mcp`` in a subprocess; each call is a whole engine run
  (events, trace saved, approval policy checked) through ``Runtime.call_tool``;
- peer: the SDK's bare low-level ``Server`` with the same tool and no engine, the
  protocol's own floor on this machine.

A third row runs both servers in this process over the SDK's memory transport: the
protocol and the servers' own work without pipes, sockets or scheduling across processes,
which on a loaded machine dominate the other two rows.

Overhead beyond the tool itself = median round trip minus the handler's own time
(measured in process); "added by flowai_nb" = that minus the bare SDK's, i.e. what the
engine run and the MCP layer cost. Bar: under 2 ms per call. Usage::

    python bench/bench_mcp.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from _harness import Contender, Row, interleave, print_table, size

HERE = Path(__file__).resolve().parent
BAR_MS = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flowai_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "flowai_nb.cli", "mcp", "_mcp_servers:app", *extra]


def _bare_command(*extra: str) -> list[str]:
    return [sys.executable, str(HERE / "_mcp_servers.py"), "bare", *extra]


@contextlib.asynccontextmanager
async def _stdio(command: list[str]) -> AsyncIterator[Any]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(HERE))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextlib.asynccontextmanager
async def _http(command: list[str], port: int) -> AsyncIterator[Any]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    proc = subprocess.Popen(command, cwd=str(HERE), stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        async with httpx2.AsyncClient() as probe:
            for _ in range(300):
                try:
                    await probe.get(url)
                    break
                except httpx2.TransportError:
                    await asyncio.sleep(0.05)
        async with httpx2.AsyncClient(timeout=30) as http, \
                streamable_http_client(url, http_client=http) as (read, write, *_), \
                ClientSession(read, write) as session:
            await session.initialize()
            yield session
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.asynccontextmanager
async def _memory(server: Any) -> AsyncIterator[Any]:
    """A client session on ``server`` in this process (the SDK's memory transport): the
    protocol and the server's own work, without pipes, sockets or a second process."""
    import anyio
    from mcp import ClientSession
    from mcp.shared.memory import create_client_server_memory_streams

    async with create_client_server_memory_streams() as (client, served), \
            anyio.create_task_group() as group:
        group.start_soon(lambda: server.run(served[0], served[1],
                                            server.create_initialization_options()))
        async with ClientSession(client[0], client[1]) as session:
            await session.initialize()
            yield session
        group.cancel_scope.cancel()


def _contender(name: str, session: Any) -> Contender:
    async def run(n: int) -> None:
        for i in range(n):
            result = await session.call_tool("echo", {"text": f"hello {i}"})
            if result.is_error or result.structured_content != {"text": f"hello {i}"}:
                raise RuntimeError(f"{name}: unexpected result {result!r}")
    return Contender(name, run)


def _handler_seconds() -> float:
    sys.path.insert(0, str(HERE))
    from _mcp_servers import echo

    handler, n = echo.handler, size(20_000, 10)
    start = time.perf_counter()
    for i in range(n):
        handler({"text": f"hello {i}"}, None)
    return (time.perf_counter() - start) / n


async def measure(rounds: int) -> list[Row]:
    """Time flowai_nb and the bare SDK server on both transports; return the table rows."""
    handler = _handler_seconds()
    rows: list[Row] = []
    flowai_port, bare_port = _free_port(), _free_port()
    from _mcp_servers import bare_server, build

    from flowai_nb.mcp import RuntimeMCPServer

    async with contextlib.AsyncExitStack() as stack:
        sides = {
            "memory (in process)": (
                await stack.enter_async_context(_memory(RuntimeMCPServer(build()).server)),
                await stack.enter_async_context(_memory(bare_server()))),
            "stdio": (await stack.enter_async_context(_stdio(_flowai_command())),
                      await stack.enter_async_context(_stdio(_bare_command("stdio")))),
            "HTTP": (await stack.enter_async_context(_http(
                         _flowai_command("--http", "--port", str(flowai_port)), flowai_port)),
                     await stack.enter_async_context(_http(
                         _bare_command("http", str(bare_port)), bare_port))),
        }
        for transport, (ours, bare) in sides.items():
            contenders = [_contender("flowai_nb", ours), _contender("bare SDK", bare)]
            medians = await interleave(contenders, rounds=rounds, batch_seconds=0.3)
            overhead = (medians["flowai_nb"] - handler) * 1000
            bare_ms = (medians["bare SDK"] - handler) * 1000
            added = overhead - bare_ms
            rows.append(Row(f"tools/call over {transport}, beyond the tool", f"{overhead:.2f} ms",
                            "mcp SDK low-level Server, no engine", f"{bare_ms:.2f} ms",
                            bare_ms / overhead, f"< {BAR_MS:.0f} ms", overhead < BAR_MS))
            rows.append(Row(f"tools/call over {transport}, added by flowai_nb",
                            f"{max(added, 0.0):.2f} ms", bar=f"< {BAR_MS:.0f} ms",
                            passed=added < BAR_MS))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median)")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.rounds))
    print_table(f"MCP tools/call overhead beyond the tool, median of {args.rounds} interleaved "
                f"rounds (ratio = bare SDK time / flowai_nb time)", rows,
                ["each flowai_nb call is a whole engine run: run-start .. run-finish events, "
                 "trace saved, approval policy resolved",
                 "client and servers share this machine's cores; read the ratio, not the ms"])


if __name__ == "__main__":
    main()
