"""MCP is served by the Studio process at /mcp, behind its token, Host and Origin checks."""

from __future__ import annotations

import asyncio

import httpx

from .conftest import TOKEN


async def _session_calls(url: str) -> tuple[list[str], dict]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                  timeout=httpx2.Timeout(30, read=60)) as http, \
            streamable_http_client(url, http_client=http) as (read, write, *_), \
            ClientSession(read, write) as session:
        await session.initialize()
        tools = [t.name for t in (await session.list_tools()).tools]
        result = await session.call_tool("run_sql", {"sql": "SELECT count(*) AS n FROM stores"})
        return tools, result.structured_content or {}


def test_mcp_tools_answer_at_slash_mcp(studio):
    assert studio.server.mcp
    tools, result = asyncio.run(_session_calls(f"{studio.url}/mcp"))
    assert "ask" in tools and "run_sql" in tools
    assert result["rows"] == [[8]]


def test_mcp_needs_the_token_and_a_local_host(studio):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    assert httpx.post(f"{studio.url}/mcp", json=body, headers=headers).status_code == 401
    evil = {**headers, "Authorization": f"Bearer {TOKEN}", "Host": "evil.example"}
    assert httpx.post(f"{studio.url}/mcp", json=body, headers=evil).status_code == 421
    cross = {**headers, "Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
    assert httpx.post(f"{studio.url}/mcp", json=body, headers=cross).status_code == 403
