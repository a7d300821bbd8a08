"""A runtime as an MCP server: its tools, ``ask``, references and agents (SPEC §13).

Built on the SDK's low-level :class:`mcp.server.Server`, so the tools keep the
JSON schemas the spec declares. Every ``tools/call`` is a real engine run
(``Runtime.call_tool`` or ``query`` / ``run_specialist`` for ``ask``): events,
trace, tenant and approval gates exactly as from a notebook. A gated call is
held open with progress heartbeats for up to ``mcp_wait_s`` seconds; then it
returns ``{"status": "pending_approval", "approvalId": ...}`` and the
``wait_for_approval`` tool continues the wait. Only a decision recorded with
``respond_to_approval`` (the notebook card, Studio, another process sharing
the store) opens a gate: nothing the MCP client says counts as an approval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext

from .._json import dumps
from ..engine._util import canonical, new_id
from ..engine.options import RunOptions
from ..engine.state import ApprovalState, RunState

__all__ = ["RuntimeMCPServer", "DEFAULT_MCP_WAIT_S", "RESOURCE_PREFIX"]

DEFAULT_MCP_WAIT_S = 50.0
"""How long a gated call is held open before it answers ``pending_approval``. Clients built
on the TypeScript SDK time out after 60 s unless progress resets their clock."""

RESOURCE_PREFIX = "flowai://reference/"
_HEARTBEAT_S = 5.0
_ASK = "ask"
_WAIT = "wait_for_approval"
_PENDING_SCHEMA = {
    "type": "object",
    "properties": {"status": {"const": "pending_approval"}, "approvalId": {"type": "string"},
                   "runId": {"type": "string"}, "kind": {"type": "string"},
                   "target": {"type": "string"}},
    "required": ["status", "approvalId"],
}
_ASK_OUTPUT = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "status": {"type": "string"},
                   "runId": {"type": "string"}, "threadId": {"type": "string"},
                   "traceId": {"type": "string"}},
    "required": ["text", "status", "runId", "threadId"],
}
_QUIET = frozenset({"text-delta", "reasoning-delta", "usage"})
_VIA_MCP = RunOptions(tags={"via": "mcp"})
"""Runs started by ``ask`` carry this tag on their traces (direct calls add ``mcpTool``)."""


class _Served:
    """A run started by an MCP call, consumed in the background so it never stalls.

    Its events are folded into a :class:`~flowai_nb.engine.state.RunState` (the one fold
    every surface uses); the handler that started the call (and later
    ``wait_for_approval``) relays :attr:`events` as progress. When nobody watches, the
    run still goes on.
    """

    def __init__(self, stream: Any, finish: Callable[[RunState], Any],
                 on_gate: Callable[[str, _Served], None],
                 earlier: list[dict[str, Any]] = ()) -> None:
        self.stream = stream
        self.state = RunState()
        for event in earlier:  # a resumed run: what it did before it paused
            self.state.apply(event)
        self.events: list[dict[str, Any]] = []
        self.done = False
        self.error: BaseException | None = None
        self.changed = asyncio.Event()
        self._finish = finish
        self._on_gate = on_gate
        self.task = asyncio.ensure_future(self._consume())

    @property
    def gate(self) -> ApprovalState | None:
        """The approval the run waits for, if any."""
        pending = self.state.pending if not self.state.finished else []
        return pending[-1] if pending else None

    async def _consume(self) -> None:
        try:
            async for event in self.stream:
                self.state.apply(event)
                self.events.append(event)
                if event["type"] == "approval-required":
                    self._on_gate(event["approvalId"], self)
                self.changed.set()
        except Exception as exc:  # a stream that ends in an error still answers the call
            self.error = exc
        finally:
            self.done = True
            self.changed.set()

    def result(self) -> types.CallToolResult:
        if self.error is not None:
            return _error(f"the run failed: {type(self.error).__name__}: {self.error}")
        return self._finish(self.state)


class RuntimeMCPServer:
    """The MCP server of one runtime; transports run :attr:`server`.

    Args:
        runtime: the :class:`~flowai_nb.Runtime` to serve.
        mcp_wait_s: seconds a gated call is held open (with progress heartbeats)
            before it answers ``pending_approval``.
        approvals: headless approval policy for the runs it starts (as for
            ``query``); ``None`` waits for a person.
        name: the server name announced to clients.
    """

    def __init__(self, runtime: Any, *, mcp_wait_s: float = DEFAULT_MCP_WAIT_S,
                 approvals: Any = None, name: str | None = None) -> None:
        if isinstance(mcp_wait_s, bool) or not isinstance(mcp_wait_s, int | float) \
                or not mcp_wait_s > 0:
            raise ValueError(f"mcp_wait_s must be a positive number of seconds; got "
                             f"{mcp_wait_s!r}")
        from .. import __version__

        self.runtime = runtime
        self.mcp_wait_s = float(mcp_wait_s)
        self.heartbeat_s = min(_HEARTBEAT_S, self.mcp_wait_s / 2)
        self.approvals = approvals
        self._held: dict[str, _Served] = {}
        self._tools = self._build_tools()
        self.server: Server[Any] = Server(
            name or f"flowai_nb:{runtime.tenant.key}", version=__version__,
            instructions=("Tools of a flowai_nb runtime. `ask` puts a question to its agents. "
                          "A call that needs a person's approval may answer "
                          "{status: 'pending_approval', approvalId}; continue it with "
                          "wait_for_approval."),
            on_list_tools=self._list_tools, on_call_tool=self._call_tool,
            on_list_resources=self._list_resources, on_read_resource=self._read_resource,
            on_list_prompts=self._list_prompts, on_get_prompt=self._get_prompt)

    def __repr__(self) -> str:
        return (f"<RuntimeMCPServer tenant={self.runtime.tenant.key!r} "
                f"tools={len(self._tools)} mcp_wait_s={self.mcp_wait_s}>")

    # -- tools ---------------------------------------------------------------------------
    def _build_tools(self) -> dict[str, types.Tool]:
        tools: dict[str, types.Tool] = {}
        for row in self.runtime.callable_tools():
            tools[row["name"]] = types.Tool(
                name=row["name"], description=row["description"] or None,
                input_schema=_served_input(row["input_schema"]),
                output_schema=_served_output(row["output_schema"]))
        agents = [a.name for a in self.runtime.spec.agents
                  if a.role == "specialist" or a.role == "coordinator"]
        for reserved in (_ASK, _WAIT):
            if reserved in tools:
                raise ValueError(f"tool name {reserved!r} is reserved by the MCP server; rename "
                                 f"the runtime's tool {reserved!r} to serve it over MCP")
        if agents:
            tools[_ASK] = types.Tool(
                name=_ASK, description=(
                    "Ask the runtime's agents a question; returns the final answer. Without "
                    "`agent` the coordinator answers (or the only specialist). Progress "
                    "notifications show what the run does."),
                input_schema={
                    "type": "object", "additionalProperties": False, "required": ["prompt"],
                    "properties": {
                        "prompt": {"type": "string", "description": "the question"},
                        "agent": {"type": "string", "enum": agents,
                                  "description": "a specialist to ask directly"},
                        "thread_id": {"type": "string",
                                      "description": "continue this conversation"}}},
                output_schema=_served_output(_ASK_OUTPUT))
        tools[_WAIT] = types.Tool(
            name=_WAIT, description=(
                "Continue waiting for a person's decision on a call that answered "
                "{status: 'pending_approval', approvalId}; returns that call's result, or "
                "pending_approval again."),
            input_schema={"type": "object", "additionalProperties": False,
                          "required": ["approvalId"],
                          "properties": {"approvalId": {"type": "string"}}})
        return tools

    async def _list_tools(self, ctx: ServerRequestContext[Any],
                          params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(self._tools.values()))

    async def _call_tool(self, ctx: ServerRequestContext[Any],
                         params: types.CallToolRequestParams) -> types.CallToolResult:
        name, args = params.name, params.arguments or {}
        if name not in self._tools:
            return _error(f"unknown tool {name!r}; tools: {sorted(self._tools)}")
        if name == _WAIT:
            return await self._wait_for_approval(ctx, args)
        try:
            if name == _ASK:
                stream, finish = self._start_ask(args)
            else:
                stream = self.runtime.call_tool(name, args, approvals=self.approvals,
                                                options=RunOptions(tags={"via": "mcp",
                                                                         "mcpTool": name}))
                finish = _tool_finish(self.runtime, name)
        except (ValueError, TypeError, RuntimeError) as exc:
            return _error(str(exc))
        served = _Served(stream, finish, self._held.__setitem__)
        return await self._hold(ctx, served, 0)

    def _start_ask(self, args: dict[str, Any]) -> tuple[Any, Callable[..., Any]]:
        prompt, agent, thread = args.get("prompt"), args.get("agent"), args.get("thread_id")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"ask needs a non-empty string 'prompt'; got {prompt!r}")
        for key, value in (("agent", agent), ("thread_id", thread)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"ask: {key!r} must be a string; got {value!r}")
        unknown = set(args) - {"prompt", "agent", "thread_id"}
        if unknown:
            raise ValueError(f"ask: unknown argument(s) {sorted(unknown)}; expected prompt, "
                             f"agent, thread_id")
        runtime = self.runtime
        coordinator = runtime.spec.coordinator
        if agent is None and coordinator is None:
            specialists = [a.name for a in runtime.spec.agents if a.role == "specialist"]
            if len(specialists) != 1:
                raise ValueError(f"this runtime has no coordinator: name the agent to ask, one "
                                 f"of {specialists}")
            agent = specialists[0]
        if agent is None or (coordinator is not None and agent == coordinator.name):
            stream = runtime.query(prompt, thread or _new_thread(), approvals=self.approvals,
                                   options=_VIA_MCP)
        else:
            stream = runtime.run_specialist(agent, prompt, thread, approvals=self.approvals,
                                            options=_VIA_MCP)
        return stream, _ask_finish

    async def _hold(self, ctx: ServerRequestContext[Any], served: _Served,
                    seen: int) -> types.CallToolResult:
        """Relay the run's events as progress until it ends, or its gate outlasts the wait."""
        loop = asyncio.get_running_loop()
        progress = 0
        waiting_since: float | None = None
        while True:
            served.changed.clear()
            while seen < len(served.events):
                line = _short(served.events[seen])
                seen += 1
                if line is not None:
                    progress += 1
                    await _report(ctx, progress, line)
            if served.done:
                return self._release(served).result()
            gate = served.gate
            if gate is None:
                waiting_since = None
                timeout = None
            else:
                waiting_since = loop.time() if waiting_since is None else waiting_since
                remaining = self.mcp_wait_s - (loop.time() - waiting_since)
                if remaining <= 0:
                    return _pending(served)
                timeout = min(self.heartbeat_s, remaining)
            try:
                await asyncio.wait_for(served.changed.wait(), timeout)
            except TimeoutError:
                if served.gate is gate and gate is not None:
                    progress += 1
                    waited = loop.time() - (waiting_since or loop.time())
                    await _report(ctx, progress, f"waiting for approval {gate.approval_id} "
                                  f"({gate.kind} {gate.target}), {waited:.0f} s")

    def _release(self, served: _Served) -> _Served:
        for approval_id in [k for k, v in self._held.items() if v is served]:
            del self._held[approval_id]
        return served

    async def _wait_for_approval(self, ctx: ServerRequestContext[Any],
                                 args: dict[str, Any]) -> types.CallToolResult:
        approval_id = args.get("approvalId")
        if not isinstance(approval_id, str) or not approval_id:
            return _error(f"wait_for_approval needs 'approvalId' (a string); got {approval_id!r}")
        served = self._held.get(approval_id)
        if served is None:
            served = self._adopt(approval_id)
            if isinstance(served, types.CallToolResult):
                return served
        return await self._hold(ctx, served, len(served.events))

    def _adopt(self, approval_id: str) -> _Served | types.CallToolResult:
        """A gate opened by another server process (or before a restart): resume its run here."""
        record = self.runtime.get_approval(approval_id)
        if record is None:
            return _error(f"unknown approval id {approval_id!r}; see the approvalId of a "
                          f"pending_approval result")
        if record.get("status") == "cancelled":
            return _error(f"approval {approval_id!r} was withdrawn (its run was cancelled)")
        try:
            stream = self.runtime.query(None, record["threadId"], resume=record["resumeToken"],
                                        approvals=self.approvals)
        except (RuntimeError, ValueError) as exc:
            return _error(f"approval {approval_id!r} was {record.get('status')} and its run "
                          f"cannot be continued here: {exc}")
        trace = next((t for t in self.runtime.list_traces(thread_id=record["threadId"])
                      if t.get("runId") == record["runId"]), None)
        tool = (trace or {}).get("tags", {}).get("mcpTool")  # set on direct calls only
        finish = _tool_finish(self.runtime, tool) if tool else _ask_finish
        return _Served(stream, finish, self._held.__setitem__,
                       earlier=trace["events"] if trace is not None else [])

    # -- resources: references -----------------------------------------------------------
    async def _list_resources(self, ctx: ServerRequestContext[Any],
                              params: Any) -> types.ListResourcesResult:
        resources = [
            types.Resource(uri=f"{RESOURCE_PREFIX}{env['id']}", name=f"{env['kind']}:{env['id']}",
                           description=_clip(canonical(env["glimpse"]), 1000),
                           mime_type="application/json")
            for env in self.runtime.list_references()]
        return types.ListResourcesResult(resources=resources)

    async def _read_resource(self, ctx: ServerRequestContext[Any],
                             params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        if not uri.startswith(RESOURCE_PREFIX) or len(uri) == len(RESOURCE_PREFIX):
            raise ValueError(f"unknown resource {uri!r}; references are "
                             f"{RESOURCE_PREFIX}<id>")
        ref = uri[len(RESOURCE_PREFIX):]
        if ":" not in ref:
            match = next((e for e in self.runtime.list_references() if e["id"] == ref), None)
            if match is None:
                raise ValueError(f"no reference {ref!r} for this tenant (expired or unknown)")
            ref = f"{match['kind']}:{ref}"
        payload = await self.runtime.resolve_reference(ref)
        return types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=uri, mime_type="application/json", text=dumps(payload, compact=False))])

    # -- prompts: agents -------------------------------------------------------------------
    async def _list_prompts(self, ctx: ServerRequestContext[Any],
                            params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[
            types.Prompt(name=agent.name, description=_agent_description(agent),
                         arguments=[types.PromptArgument(
                             name="prompt", description="what to ask the agent", required=False)])
            for agent in self.runtime.spec.agents])

    async def _get_prompt(self, ctx: ServerRequestContext[Any],
                          params: types.GetPromptRequestParams) -> types.GetPromptResult:
        names = [a.name for a in self.runtime.spec.agents]
        if params.name not in names:
            raise ValueError(f"unknown prompt {params.name!r}; prompts (agents): {names}")
        agent = self.runtime.spec.agent(params.name)
        request = (params.arguments or {}).get("prompt") or ""
        text = agent.system_prompt if not request else f"{agent.system_prompt}\n\n{request}"
        return types.GetPromptResult(description=_agent_description(agent), messages=[
            types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))])


# -- results ----------------------------------------------------------------------------------
def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)],
                                is_error=True)


def _pending(served: _Served) -> types.CallToolResult:
    gate = served.gate
    assert gate is not None
    data = {"status": "pending_approval", "approvalId": gate.approval_id,
            "runId": served.stream.run_id, "kind": gate.kind, "target": str(gate.target)}
    text = (f"Waiting for a person to approve {data['kind']} {data['target']} "
            f"(approval {data['approvalId']}). Call wait_for_approval with this approvalId "
            f"to continue waiting.")
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                structured_content=data)


def _tool_finish(runtime: Any, tool: str) -> Callable[[RunState], Any]:
    def finish(state: RunState) -> types.CallToolResult:
        call = next(iter(state.tools.values()), None)  # a direct call makes exactly one
        if call is not None and call.error is not None:
            return _error(str(call.error))
        if call is None or call.status != "ok":
            return _error(_failure(state) or f"the call to {tool} ended without a result")
        value = call.result
        if call.glimpse is not None and isinstance(value, dict) and "kind" in value:
            # a large result stored as a reference (finish is sync: read the store directly)
            value = runtime.references.resolve(value)
        structured = value if isinstance(value, dict) else {"result": value}
        text = value if isinstance(value, str) else dumps(value, compact=False)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=structured)
    return finish


def _ask_finish(state: RunState) -> types.CallToolResult:
    if state.status != "completed":
        return _error(f"the run {state.status if state.finished else 'ended unfinished'}: "
                      f"{_failure(state) or 'no answer'}")
    text = state.text or ""
    data = {"text": text, "status": state.status, "runId": state.run_id,
            "threadId": state.thread_id, "traceId": state.trace_id}
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                structured_content=data)


def _failure(state: RunState) -> str | None:
    return "; ".join(error["message"] for error in state.errors) or None


def _served_input(schema: dict[str, Any]) -> dict[str, Any]:
    """MCP wants ``type: object`` at the root; an empty schema (no arguments) gets it."""
    return schema if "type" in schema else {"type": "object", **schema}


def _served_output(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The output schema as served: an object (scalars wrapped as ``{result}``) that also
    admits the ``pending_approval`` answer."""
    if schema is None:
        return None
    if schema.get("type") != "object":
        schema = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    return {"type": "object", "anyOf": [schema, _PENDING_SCHEMA]}


# -- progress --------------------------------------------------------------------------------
def _short(event: dict[str, Any]) -> str | None:
    """One line per event for progress notifications (deltas and usage are left out)."""
    etype = event["type"]
    if etype in _QUIET:
        return None
    agent = event.get("agent")
    if etype == "tool-call":
        return f"{agent}: calling {event['tool']}"
    if etype == "tool-result":
        return f"{agent}: {event['tool']} {'failed' if 'error' in event else 'returned'}"
    if etype == "approval-required":
        return (f"waiting for approval {event['approvalId']} ({event['kind']} "
                f"{event['target']})")
    if etype == "approval-decision":
        return f"approval {event['approvalId']}: {event['outcome']}"
    if etype == "error":
        return f"error: {_clip(event['message'], 200)}"
    if etype == "run-finish":
        return f"run {event['status']}"
    if etype in ("plan-status", "plan-stored"):
        return f"plan {event['planId']}: {event['status']}"
    if etype == "action-status":
        return f"plan {event['planId']} action {event['index']}: {event['status']}"
    return f"{agent}: {etype}"


async def _report(ctx: ServerRequestContext[Any], progress: int, message: str) -> None:
    try:
        await ctx.session.report_progress(progress, None, message)
    except Exception:  # a client gone mid-call must not break the run it started
        pass


def _agent_description(agent: Any) -> str:
    first = agent.system_prompt.strip().splitlines()[0] if agent.system_prompt.strip() else ""
    return f"{agent.role} agent {agent.name}" + (f": {_clip(first, 200)}" if first else "")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _new_thread() -> str:
    return new_id("mcp")

