"""``serve_mcp_http`` on the test's own loop (as in a kernel): binding, bearer token, Host and
Origin checks, stopping, and what never counts as an approval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.mcp.mcp_app import build_runtime

TOKEN = "s3cret-" + "a81f0c"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "probe", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def runtime(tmp_path: Path) -> Any:
    rt = build_runtime(str(tmp_path / "kv.db"))
    yield rt
    rt.close()


async def post(url: str, **headers: str) -> Any:
    import httpx2

    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(url, json=INIT, headers={**HEADERS, **headers})


def test_binds_localhost_by_default_and_stops(runtime: Any) -> None:
    async def scenario() -> Any:
        handle = await runtime.serve_mcp_http()
        assert handle.running
        first = await post(handle.url)
        await handle.stop()
        return handle, first

    handle, first = asyncio.run(scenario())
    assert handle.url.startswith("http://127.0.0.1:") and handle.url.endswith("/mcp")
    assert first.status_code == 200
    assert not handle.running and "stopped" in repr(handle)


def test_token_is_required_and_compared_exactly(
        runtime: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> list[Any]:
        async with await runtime.serve_mcp_http(token=TOKEN) as handle:
            return [await post(handle.url),
                    await post(handle.url, Authorization=f"Bearer {TOKEN}x"),
                    await post(handle.url, Authorization=f"Bearer {TOKEN[:-1]}"),
                    await post(handle.url, Authorization=f"Basic {TOKEN}"),
                    await post(handle.url, Authorization=f"Bearer {TOKEN}")]

    *refused, accepted = asyncio.run(scenario())
    for response in refused:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text
    assert accepted.status_code == 200
    assert TOKEN not in caplog.text


def test_foreign_host_is_refused_421_and_foreign_origin_403(runtime: Any) -> None:
    async def scenario() -> list[Any]:
        async with await runtime.serve_mcp_http() as handle:
            port = handle.url.split(":")[2].split("/")[0]
            return [await post(handle.url, Host=f"evil.example:{port}"),
                    await post(handle.url, Origin="http://evil.example"),
                    await post(handle.url, Origin=f"http://localhost:{port}"),
                    await post(handle.url, Host=f"localhost:{port}")]

    rebinding, foreign, local_origin, local_host = asyncio.run(scenario())
    assert rebinding.status_code == 421
    assert foreign.status_code == 403
    assert local_origin.status_code == 200 and local_host.status_code == 200


def test_bad_arguments_are_refused_before_listening(runtime: Any) -> None:
    async def scenario(**kwargs: Any) -> Any:
        return await runtime.serve_mcp_http(**kwargs)

    with pytest.raises(ValueError, match="token must be a non-empty string"):
        asyncio.run(scenario(token=""))
    with pytest.raises(ValueError, match="port must be an integer in 0..65535; got 70000"):
        asyncio.run(scenario(port=70000))
    with pytest.raises(ValueError, match="mcp_wait_s must be a positive number"):
        asyncio.run(scenario(mcp_wait_s=0))


def test_stopping_with_a_call_held_open_leaves_the_run_paused(runtime: Any) -> None:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def scenario() -> Any:
        handle = await runtime.serve_mcp_http(mcp_wait_s=60)
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=60)) as http, \
                streamable_http_client(handle.url, http_client=http) as (read, write, *_), \
                ClientSession(read, write) as session:
            await session.initialize()
            call = asyncio.ensure_future(session.call_tool("wipe_table", {"table": "t"}))
            while not runtime.pending_approvals():
                await asyncio.sleep(0.02)
            await asyncio.wait_for(handle.stop(), 15)
            call.cancel()
        return runtime.pending_approvals()

    pending = asyncio.run(scenario())
    assert [p["target"] for p in pending] == ["wipe_table"]
    assert pending[0]["resumeToken"].startswith("resume-")


@contextlib.asynccontextmanager
async def client(url: str, **session_kwargs: Any) -> Any:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10, read=60)) as http, \
            streamable_http_client(url, http_client=http) as (read, write, *_), \
            ClientSession(read, write, **session_kwargs) as session:
        await session.initialize()
        yield session


def test_a_client_willing_to_say_yes_never_approves_anything(runtime: Any) -> None:
    import mcp_types as types

    asked: list[Any] = []

    async def eager_yes(context: Any, params: Any) -> Any:
        asked.append(params)
        return types.ElicitResult(action="accept", content={"approve": True})

    async def scenario() -> Any:
        async with await runtime.serve_mcp_http(mcp_wait_s=1) as handle, \
                client(handle.url, elicitation_callback=eager_yes) as session:
            return await session.call_tool("wipe_table", {"table": "t"})

    result = asyncio.run(scenario())
    assert result.structured_content["status"] == "pending_approval"
    assert asked == []
    assert [p["status"] for p in runtime.pending_approvals()] == ["pending"]


def test_the_runtimes_approval_timeout_rejects_a_held_call(runtime: Any) -> None:
    runtime.approval_timeout = 0.5

    async def scenario() -> Any:
        async with await runtime.serve_mcp_http(mcp_wait_s=30) as handle, \
                client(handle.url) as session:
            return await session.call_tool("wipe_table", {"table": "t"})

    result = asyncio.run(scenario())
    assert result.is_error and "timed out" in result.content[0].text
    assert runtime.pending_approvals() == []
