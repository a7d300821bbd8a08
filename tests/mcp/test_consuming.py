"""Agents using an external MCP server's tools as a toolkit, both directions at once:
the external server is itself a flowai_nb runtime served by ``flowai-nb mcp``."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import flowai_nb as fa
from tests.mcp.conftest import ROOT, cli_args
from tests.mcp.mcp_app import STORE_ENV, build_runtime


def consumer(toolkit: fa.ToolkitSpec, script: list[dict[str, Any]], **agent: Any) -> Any:
    """A runtime whose specialist ``ops`` has the external toolkit and plays ``script``."""
    spec = fa.define_runtime(
        fa.define_tenant("globex", "1"),
        agents=[fa.define_specialist("ops", model="m", prompt="Operate.", toolkits=[toolkit],
                                     **agent)],
        providers={"scripted": {"scripts": {"ops": script}}})
    return fa.create_runtime(spec, interpreter="scripted")


def stdio_toolkit(store: str) -> fa.ToolkitSpec:
    return fa.ToolkitSpec(id="calc", config={"mcp": {
        "command": [sys.executable, *cli_args()], "cwd": str(ROOT),
        "env": {STORE_ENV: store, "PYTHONPATH": str(ROOT)}}})


def by_type(events: list[dict[str, Any]], etype: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == etype]


def wait_gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_an_agent_calls_a_served_runtime_over_stdio_under_its_own_gates(tmp_path: Path) -> None:
    store = str(tmp_path / "served.db")
    rt = consumer(stdio_toolkit(store), [
        {"tool": "whoami", "args": {}},
        {"tool": "add", "args": {"a": 2, "b": 40}},
        {"text": "The sum is 42."}],
        tool_approvals={"calc.add": "always"})
    assert rt._run_services.tools._external == {}  # nothing started before the first run
    events = rt.run_specialist("ops", "add 2 and 40", approvals="auto_approve").collect()
    events = asyncio.run(events)
    assert events[-1]["status"] == "completed" and events[-1]["text"] == "The sum is 42."
    gates = by_type(events, "approval-required")
    assert [(g["kind"], g["target"]) for g in gates] == [("tool", "add")]
    results = {e["tool"]: e for e in by_type(events, "tool-result")}
    assert results["add"]["result"] == {"sum": 42}
    pid = results["whoami"]["result"]["pid"]
    assert pid != os.getpid()
    assert rt.get_trace(events[-1]["traceId"])["events"][-1]["type"] == "run-finish"

    served = build_runtime(store)  # the served side recorded real runs too
    calls = [e for t in served.list_traces() for e in t["events"] if e["type"] == "tool-call"]
    assert {c["tool"] for c in calls} == {"whoami", "add"}
    served.close()

    rt.close()
    assert wait_gone(pid), "closing the runtime left the MCP server process running"


def test_the_served_sides_gate_still_applies_to_a_consuming_agent(tmp_path: Path) -> None:
    rt = consumer(stdio_toolkit(str(tmp_path / "served.db")), [
        {"tool": "wipe_table", "args": {"table": "orders"}}, {"text": "asked"}])
    events = asyncio.run(rt.run_specialist("ops", "wipe orders").collect())
    rt.close()
    assert by_type(events, "approval-required") == []  # no local policy for it
    result = by_type(events, "tool-result")[0]["result"]
    assert result["status"] == "pending_approval" and result["target"] == "wipe_table"


def test_a_server_that_dies_mid_call_is_a_tool_error_and_comes_back(tmp_path: Path) -> None:
    rt = consumer(stdio_toolkit(str(tmp_path / "served.db")), [
        {"tool": "crash", "args": {}},
        {"tool": "add", "args": {"a": 1, "b": 1}},
        {"text": "recovered"}])
    events = asyncio.run(asyncio.wait_for(rt.run_specialist("ops", "go").collect(), 120))
    rt.close()
    crash, add = by_type(events, "tool-result")
    assert "calc" in crash["error"] and "crash" in crash["error"]
    assert add["result"] == {"sum": 2}
    assert events[-1]["status"] == "completed"


def test_an_agent_uses_a_runtime_served_over_http_from_the_same_loop(tmp_path: Path) -> None:
    served = build_runtime(str(tmp_path / "served.db"))

    async def scenario() -> list[dict[str, Any]]:
        async with await served.serve_mcp_http(token="t0k3n", mcp_wait_s=1) as handle:
            good = consumer(fa.ToolkitSpec(id="calc", config={"mcp": {
                "url": handle.url, "headers": {"Authorization": "Bearer t0k3n"}}}),
                [{"tool": "add", "args": {"a": 3, "b": 4}}, {"text": "7"}])
            bad = consumer(fa.ToolkitSpec(id="calc", config={"mcp": {"url": handle.url}}),
                           [{"text": "never"}])
            try:
                return (await good.run_specialist("ops", "3+4").collect(),
                        await bad.run_specialist("ops", "3+4").collect())
            finally:
                good.close()
                bad.close()

    events, refused = asyncio.run(scenario())
    served.close()
    assert by_type(events, "tool-result")[0]["result"] == {"sum": 7}
    assert refused[-1]["status"] == "failed"
    error = by_type(refused, "error")[0]["message"]
    assert "toolkit 'calc': cannot start the MCP server" in error
    assert "HTTP 401" in error and "t0k3n" not in error


@pytest.mark.parametrize(("config", "message"), [
    ({"mcp": {}}, "needs exactly one of 'command'"),
    ({"mcp": {"command": "python server.py"}}, "must be a non-empty list of strings"),
    ({"mcp": {"url": "ftp://x"}}, "must start with http:// or https://"),
    ({"mcp": {"url": "http://x", "env": {"A": "1"}}}, "'env' and 'cwd' go with 'command'"),
    ({"mcp": {"command": ["x"], "timeout": -1}}, "positive number of seconds"),
    ({"mcp": {"command": ["x"], "retries": 3}}, "unknown key(s) ['retries']"),
])
def test_bad_mcp_toolkit_config_is_refused_naming_the_field(config: Any, message: str) -> None:
    from flowai_nb.mcp.toolkit import parse_config

    with pytest.raises(ValueError, match="toolkit 'calc'") as info:
        parse_config("calc", config["mcp"])
    assert message in str(info.value)


def test_an_unknown_toolkit_id_without_mcp_config_is_still_refused() -> None:
    spec = fa.define_runtime(fa.define_tenant("acme", "1"), agents=[
        fa.define_specialist("ops", model="m", prompt="p", toolkits=[fa.ToolkitSpec(id="github")])])
    with pytest.raises(ValueError, match="unknown toolkit 'github'"):  # at create_runtime
        fa.create_runtime(spec)
    with pytest.raises(ValueError, match="sets a policy for tool"):
        fa.define_runtime(fa.define_tenant("acme", "1"), agents=[fa.define_specialist(
            "ops", model="m", prompt="p", toolkits=["sql"],
            tool_approvals={"github.create_issue": "always"})])


def test_secret_header_values_are_unwrapped_and_never_echoed() -> None:
    from pydantic import SecretStr

    from flowai_nb.mcp.toolkit import parse_config

    parsed = parse_config("calc", {"url": "http://127.0.0.1:1/mcp",
                                   "headers": {"Authorization": SecretStr("Bearer s3")}})
    assert parsed["headers"] == {"Authorization": "Bearer s3"}
    with pytest.raises(ValueError) as info:
        parse_config("calc", {"url": "http://x", "headers": {"Authorization": 7,
                                                             "X-Key": "s3cr3t"}})
    assert "['Authorization']" in str(info.value) and "s3cr3t" not in str(info.value)
