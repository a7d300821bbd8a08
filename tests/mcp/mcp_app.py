"""The app the MCP tests serve with ``flowai-nb mcp tests.mcp.mcp_app:app``.

Its store is the SQLite file named by ``FLOWAI_NB_MCP_TEST_STORE``, so the test
process opens a second runtime on the same file to answer approvals and read
traces, as a person in a notebook would.
"""

from __future__ import annotations

import os

import flowai_nb as fa

STORE_ENV = "FLOWAI_NB_MCP_TEST_STORE"


@fa.define_tool("add", "Add two integers.", {"a": int, "b": int},
                output_schema={"type": "object", "properties": {"sum": {"type": "integer"}},
                               "required": ["sum"]})
def add(args, ctx):
    print("adding", args)  # over stdio this must not reach the protocol stream
    return {"sum": args["a"] + args["b"]}


@fa.define_tool("wipe_table", "Delete every row of a table.", {"table": str}, approval="always")
def wipe_table(args, ctx):
    ctx.kv.put(f"wiped/{args['table']}", True)
    return f"wiped {args['table']}"


@fa.define_tool("whoami", "The serving process's id.", {})
def whoami(args, ctx):
    return {"pid": os.getpid()}


@fa.define_tool("crash", "Stop the serving process in the middle of the call.", {})
def crash(args, ctx):
    os._exit(3)


def build_runtime(store: str | None = None):
    """The served runtime; ``store`` defaults to the file named by the environment."""
    path = store or os.environ[STORE_ENV]
    spec = fa.define_runtime(
        fa.define_tenant("acme", "1"),
        agents=[
            fa.define_coordinator("router", model="m", prompt="Route questions.",
                                  routes=["calc"]),
            fa.define_specialist("calc", model="m", prompt="You compute sums.",
                                 tools=[add, wipe_table, whoami, crash]),
        ],
        storage_factories={"kv": fa.StorageFactorySpec(kind="sqlite", config={"path": path})},
        providers={"scripted": {"scripts": {
            "router": [{"tool": "call_agent", "args": {"agent": "calc", "prompt": "2+3"}},
                       {"text": "The sum is 5."}],
            "calc": [{"tool": "add", "args": {"a": 2, "b": 3}}, {"text": "5"}],
        }}},
    )
    return fa.create_runtime(spec, interpreter="scripted")


app = fa.define_app("mcp-test", workspaces=[fa.define_workspace_runtime("main", build_runtime)])
