"""MCP test fixtures: the ``flowai-nb mcp`` CLI in a real subprocess, over stdio or HTTP.

The served app keeps its state in a SQLite file; ``approver`` is a second runtime
on the same file (the person who approves, the reader of traces).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mcp.mcp_app import STORE_ENV, build_runtime

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-" + "7f3a9c2e5b1d"
WAIT_S = "1"


def cli_args(*extra: str, wait: str = WAIT_S) -> list[str]:
    return ["-m", "flowai_nb.cli", "mcp", "tests.mcp.mcp_app:app", "--wait", wait, *extra]


def cli_env(store: str) -> dict[str, str]:
    env = {**os.environ, STORE_ENV: store, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWAI_NB_APPROVAL", None)
    return env


class Served:
    """One served app: its store and a way to open an MCP client session on it."""

    def __init__(self, transport: str, store: str, url: str | None = None) -> None:
        self.transport = transport
        self.store = store
        self.url = url

    @contextlib.asynccontextmanager
    async def connect(self, wait: str = WAIT_S) -> AsyncIterator[Any]:
        """A client session; ``wait`` (stdio only) is the server's ``--wait``."""
        from mcp import ClientSession

        async with self._streams(wait) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session

    @contextlib.asynccontextmanager
    async def _streams(self, wait: str) -> AsyncIterator[Any]:
        if self.transport == "stdio":
            from mcp import StdioServerParameters, stdio_client

            params = StdioServerParameters(command=sys.executable, args=cli_args(wait=wait),
                                           env=cli_env(self.store), cwd=str(ROOT))
            async with stdio_client(params) as streams:
                yield streams
        else:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                          timeout=httpx2.Timeout(30, read=120)) as http, \
                    streamable_http_client(self.url, http_client=http) as streams:
                yield streams[0], streams[1]


def start_http_cli(store: str, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """``flowai-nb mcp ... --http --port 0``; returns the process and the URL it printed."""
    proc = subprocess.Popen([sys.executable, *cli_args("--http", "--port", "0", *extra)],
                            env=cli_env(store), cwd=str(ROOT), stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "serving http://" in line:
            return proc, line.split("serving ", 1)[1].split()[0].rstrip(";")
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"the MCP HTTP server did not start: {proc.stderr.read()}")


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    store = str(tmp_path_factory.mktemp("mcp-http") / "kv.db")
    proc, url = start_http_cli(store, "--token", TOKEN)
    try:
        yield Served("http", store, url)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(params=["stdio", "http"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Served:
    if request.param == "http":
        return request.getfixturevalue("http_server")
    return Served("stdio", str(tmp_path / "kv.db"))


@pytest.fixture
def approver(served: Served) -> Iterator[Any]:
    """A second runtime on the served app's store: answers approvals, reads traces."""
    runtime = build_runtime(served.store)
    yield runtime
    runtime.close()
