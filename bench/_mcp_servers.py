"""Servers for ``bench_mcp.py``: a flowai_nb app and a bare MCP SDK server, same tool.

``python _mcp_servers.py bare stdio`` / ``bare http PORT`` runs the bare server;
the flowai_nb side is served by ``flowai-nb mcp _mcp_servers:app``.
"""

from __future__ import annotations

import sys
from typing import Any

import flowai_nb as fa

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
          "additionalProperties": False}
OUTPUT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


@fa.define_tool("echo", "Echo the text back.", SCHEMA, output_schema=OUTPUT)
def echo(args: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"text": args["text"]}


def build() -> Any:
    spec = fa.define_runtime(fa.define_tenant("bench", "1"), agents=[
        fa.define_specialist("echoer", model="m", prompt="Echo.", tools=[echo])])
    return fa.create_runtime(spec)


app = fa.define_app("bench-mcp", workspaces=[fa.define_workspace_runtime("main", build)])


def bare_server() -> Any:
    """The same tool on the SDK's low-level Server, with no engine behind it."""
    import mcp_types as types
    from mcp.server import Server

    tool = types.Tool(name="echo", description="Echo the text back.", input_schema=SCHEMA,
                      output_schema=OUTPUT)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        data = {"text": (params.arguments or {})["text"]}
        return types.CallToolResult(content=[types.TextContent(type="text", text=data["text"])],
                                    structured_content=data)

    return Server("bare", on_list_tools=list_tools, on_call_tool=call_tool)


async def _serve(transport: str, port: int) -> None:
    server = bare_server()
    if transport == "stdio":
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
        return
    import uvicorn

    config = uvicorn.Config(server.streamable_http_app(), host="127.0.0.1", port=port,
                            log_level="warning")
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    import asyncio

    asyncio.run(_serve(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
