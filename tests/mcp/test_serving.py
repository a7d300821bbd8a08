"""A runtime served over MCP, driven by the ``mcp`` package's own client.

Every test runs against the ``flowai-nb mcp`` CLI in a real subprocess, once
over stdio and once over Streamable HTTP. Approvals come from a second runtime
on the same SQLite store, as from a notebook or Studio in another process.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.mcp.conftest import Served


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def pending_approval(approver: Any, tool: str, args: dict[str, Any],
                           timeout: float = 30) -> dict[str, Any]:
    """The pending approval of the call ``tool(args)`` (the server opened it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for record in approver.pending_approvals():
            if record["payload"] == {"tool": tool, "args": args}:
                return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"no approval for {tool} appeared in the shared store")


async def call_until_decided(session: Any, name: str, args: dict[str, Any],
                             progress: list[str]) -> Any:
    """Call ``name``; while it answers pending_approval, continue with wait_for_approval."""
    async def record(_: float, __: float | None, message: str | None) -> None:
        progress.append(message or "")

    result = await session.call_tool(name, args, progress_callback=record)
    while (result.structured_content or {}).get("status") == "pending_approval":
        result = await session.call_tool(
            "wait_for_approval", {"approvalId": result.structured_content["approvalId"]},
            progress_callback=record)
    return result


def trace_of(approver: Any, tool: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of the stored trace of the call ``tool(args)``."""
    traces = [t for t in approver.list_traces() if any(
        e["type"] == "tool-call" and e["tool"] == tool and e["args"] == args
        for e in t["events"])]
    assert traces, f"no trace recorded a call to {tool}({args})"
    return traces[-1]["events"]


def test_lists_tools_with_their_schemas_and_agents_as_prompts(served: Served) -> None:
    async def scenario() -> None:
        async with served.connect() as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            prompts = {p.name: p for p in (await session.list_prompts()).prompts}
            prompt = await session.get_prompt("calc", {"prompt": "What is 2+3?"})
        assert set(tools) == {"add", "wipe_table", "whoami", "crash", "ask", "wait_for_approval"}
        assert tools["add"].input_schema["required"] == ["a", "b"]
        assert tools["add"].input_schema["properties"]["a"]["type"] == "integer"
        declared = {"type": "object", "properties": {"sum": {"type": "integer"}},
                    "required": ["sum"]}
        assert declared in tools["add"].output_schema["anyOf"]
        assert tools["wipe_table"].output_schema is None
        assert tools["ask"].input_schema["properties"]["agent"]["enum"] == ["router", "calc"]
        assert set(prompts) == {"router", "calc"}
        assert "You compute sums." in prompts["calc"].description
        text = prompt.messages[0].content.text
        assert text.startswith("You compute sums.") and text.endswith("What is 2+3?")

    run(scenario())


def test_a_plain_call_is_a_real_run_with_structured_and_text_results(
        served: Served, approver: Any) -> None:
    async def scenario() -> Any:
        async with served.connect() as session:
            good = await session.call_tool("add", {"a": 20, "b": 22})
            bad = await session.call_tool("add", {"a": "twenty"})
            unknown = await session.call_tool("drop_database", {})
        return good, bad, unknown

    good, bad, unknown = run(scenario())
    assert not good.is_error
    assert good.structured_content == {"sum": 42}
    assert json.loads(good.content[0].text) == {"sum": 42}
    assert bad.is_error and "invalid arguments for tool 'add'" in bad.content[0].text
    assert unknown.is_error and "unknown tool 'drop_database'" in unknown.content[0].text
    events = trace_of(approver, "add", {"a": 20, "b": 22})
    types = [e["type"] for e in events]
    assert types[0] == "run-start" and types[-1] == "run-finish"
    assert any(e["type"] == "tool-result" and e.get("result") == {"sum": 42} for e in events)
    trace = approver.get_trace(events[-1]["traceId"])
    assert trace["tags"] == {"via": "mcp", "mcpTool": "add"}


def test_a_gated_call_waits_for_a_person_in_another_process(
        served: Served, approver: Any) -> None:
    progress: list[str] = []

    async def scenario() -> Any:
        async with served.connect(wait="60") as session:
            call = asyncio.ensure_future(
                call_until_decided(session, "wipe_table", {"table": "orders"}, progress))
            record = await pending_approval(approver, "wipe_table", {"table": "orders"})
            await asyncio.sleep(0.3)
            assert not call.done(), "the gated call answered before anyone approved it"
            await approver.respond_to_approval(record["approvalId"], "approve")
            return await asyncio.wait_for(call, 30)

    result = run(scenario())
    assert not result.is_error
    assert result.content[0].text == "wiped orders"
    assert any(m.startswith("waiting for approval") for m in progress)
    assert any(m.endswith(": approve") for m in progress)
    events = trace_of(approver, "wipe_table", {"table": "orders"})
    types = [e["type"] for e in events]
    assert types.index("approval-required") < types.index("approval-decision") \
        < types.index("tool-result")


def test_a_rejected_call_is_an_error_naming_the_feedback_and_never_runs(
        served: Served, approver: Any) -> None:
    async def scenario() -> Any:
        async with served.connect() as session:
            call = asyncio.ensure_future(
                call_until_decided(session, "wipe_table", {"table": "users"}, []))
            record = await pending_approval(approver, "wipe_table", {"table": "users"})
            await approver.respond_to_approval(record["approvalId"], "reject",
                                               feedback="not on a Friday")
            return await asyncio.wait_for(call, 30)

    result = run(scenario())
    assert result.is_error
    assert "rejected" in result.content[0].text and "not on a Friday" in result.content[0].text
    events = trace_of(approver, "wipe_table", {"table": "users"})
    outcome = next(e for e in events if e["type"] == "tool-result")
    assert "error" in outcome and "result" not in outcome


def test_a_call_past_the_wait_answers_pending_and_wait_for_approval_continues(
        served: Served, approver: Any) -> None:
    async def scenario() -> Any:
        async with served.connect() as session:
            first = await session.call_tool("wipe_table", {"table": "stock"})
            approval_id = first.structured_content["approvalId"]
            again = await session.call_tool("wait_for_approval", {"approvalId": approval_id})
            assert approver.get_approval(approval_id)["status"] == "pending"
            await approver.respond_to_approval(approval_id, "approve")
            done = await session.call_tool("wait_for_approval", {"approvalId": approval_id})
            bogus = await session.call_tool("wait_for_approval", {"approvalId": "ap-nope"})
        return first, again, done, bogus

    first, again, done, bogus = run(scenario())
    for pending in (first, again):
        assert not pending.is_error
        assert pending.structured_content["status"] == "pending_approval"
        assert pending.structured_content["target"] == "wipe_table"
        assert "wait_for_approval" in pending.content[0].text
    assert again.structured_content["approvalId"] == first.structured_content["approvalId"]
    assert not done.is_error and done.content[0].text == "wiped stock"
    assert bogus.is_error and "unknown approval id 'ap-nope'" in bogus.content[0].text


def test_references_are_resources(served: Served, approver: Any) -> None:
    async def scenario() -> Any:
        envelope = await approver.create_reference("tool_result", {"rows": [1, 2, 3]})
        async with served.connect() as session:
            listed = (await session.list_resources()).resources
            uri = f"flowai://reference/{envelope['id']}"
            read = await session.read_resource(uri)
        return envelope, listed, read

    envelope, listed, read = run(scenario())
    entry = next(r for r in listed if str(r.uri).endswith(envelope["id"]))
    assert json.loads(entry.description) == envelope["glimpse"]
    assert json.loads(read.contents[0].text) == {"rows": [1, 2, 3]}


def test_ask_runs_the_coordinator_or_a_specialist_with_progress(
        served: Served, approver: Any) -> None:
    progress: list[str] = []

    async def scenario() -> Any:
        async with served.connect() as session:
            answer = await call_until_decided(session, "ask", {"prompt": "What is 2+3?"},
                                              progress)
            direct = await session.call_tool("ask", {"prompt": "2+3", "agent": "calc"})
            wrong = await session.call_tool("ask", {"prompt": "hi", "agent": "nobody"})
        return answer, direct, wrong

    answer, direct, wrong = run(scenario())
    assert not answer.is_error and answer.content[0].text == "The sum is 5."
    assert answer.structured_content["status"] == "completed"
    assert "calc: calling add" in progress and "run completed" in progress
    assert direct.content[0].text == "5"
    assert wrong.is_error and "nobody" in wrong.content[0].text
    trace = approver.get_trace(answer.structured_content["traceId"])
    assert trace is not None and trace["events"][0]["prompt"] == "What is 2+3?"
    assert trace["tags"] == {"via": "mcp"}


@pytest.mark.parametrize("served", ["stdio"], indirect=True)
def test_a_stray_print_in_a_tool_does_not_corrupt_stdio(served: Served) -> None:
    async def scenario() -> Any:
        async with served.connect() as session:
            return await session.call_tool("add", {"a": 1, "b": 1})

    assert run(scenario()).structured_content == {"sum": 2}


@pytest.mark.parametrize("served", ["stdio"], indirect=True)
def test_wait_for_approval_continues_a_call_after_the_server_restarted(
        served: Served, approver: Any) -> None:
    async def scenario() -> Any:
        async with served.connect() as session:
            first = await session.call_tool("wipe_table", {"table": "audit"})
        approval_id = first.structured_content["approvalId"]
        await approver.respond_to_approval(approval_id, "approve")
        async with served.connect() as session:  # a new server process on the same store
            return await session.call_tool("wait_for_approval", {"approvalId": approval_id})

    result = run(scenario())
    assert not result.is_error, result.content[0].text
    assert result.content[0].text == "wiped audit"
    events = trace_of(approver, "wipe_table", {"table": "audit"})
    assert events[-1]["type"] == "run-finish" and events[-1]["status"] == "completed"


def test_ask_waits_at_a_gate_inside_the_run_like_a_tool_call(
        served: Served, approver: Any) -> None:
    ask_through_a_gate(served, approver, restart=False)


@pytest.mark.parametrize("served", ["stdio"], indirect=True)
def test_ask_through_a_gate_continues_after_the_server_restarted(
        served: Served, approver: Any) -> None:
    ask_through_a_gate(served, approver, restart=True)


def ask_through_a_gate(served: Served, approver: Any, *, restart: bool) -> None:
    """``ask`` pauses at wipe_table's gate (pending); approve; wait_for_approval answers,
    from the same server or from a new server process on the same store."""
    script = json.dumps({"script": [{"tool": "wipe_table", "args": {"table": "carts"}},
                                    {"text": "Carts are empty."}]})

    async def scenario() -> Any:
        async with served.connect() as session:
            first = await session.call_tool("ask", {"prompt": script, "agent": "calc"})
            approval_id = first.structured_content["approvalId"]
            await approver.respond_to_approval(approval_id, "approve")
            if not restart:
                done = await session.call_tool("wait_for_approval",
                                               {"approvalId": approval_id})
        if restart:
            async with served.connect() as session:
                done = await session.call_tool("wait_for_approval",
                                               {"approvalId": approval_id})
        return first, done

    first, done = run(scenario())
    assert first.structured_content["status"] == "pending_approval"
    assert first.structured_content["target"] == "wipe_table"
    assert not done.is_error and done.content[0].text == "Carts are empty."
    assert done.structured_content["status"] == "completed"
