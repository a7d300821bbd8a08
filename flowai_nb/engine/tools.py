"""The tool registry of a runtime, and :func:`call_handler`, where a tool handler runs.

Every tool an agent can call, built-ins included, is a :class:`ToolBinding`: its
argument validation plus either a user handler ``handler(args, ctx)`` or a
built-in (``call_agent``, ``store_plan``, ``execute_plan``; see
:mod:`~flowai_nb.engine.builtins`) that drives the run itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..authoring._schema import CompiledSchema, compile_schema
from ..authoring.agents import AgentSpec
from ..authoring.runtime_spec import RuntimeSpec
from ..authoring.secrets import reveal
from ..authoring.toolkits import BUILTIN_TOOLKITS, Toolkit
from .tool_exec import run_contained
from .toolkits import toolkit_handler

__all__ = ["ToolBinding", "ToolRegistry", "call_handler", "DIRECT_TOOLKITS"]

DIRECT_TOOLKITS = ("catalog", "sql")
"""Toolkits whose tools ``Runtime.call_tool`` runs when a data environment is configured."""

Builtin = Callable[..., Any]
"""``async builtin(run, frame, agent, use, args) -> tool_result message``."""


@dataclass(slots=True)
class ToolBinding:
    """One callable tool: how its arguments are checked and what runs it."""

    name: str
    schema: CompiledSchema | None
    validator: Callable[[Any], Any] | None
    handler: Callable[..., Any] | None
    builtin: Builtin | None
    policy_name: str | None = None
    """The name approval policies use, when not ``name``: ``kit.tool`` for an external
    MCP toolkit's tool."""

    def validate(self, args: Any) -> Any:
        """The validated arguments; raises ValueError/TypeError naming the tool."""
        if self.validator is not None:
            return self.validator(args)
        assert self.schema is not None
        return self.schema.validate(args or {}, what=f"invalid arguments for tool {self.name!r}")[0]


class ToolRegistry:
    """Tools per agent: the definitions the model sees and the bindings that run them."""

    def __init__(self, spec: RuntimeSpec, handlers: Mapping[str, Callable[..., Any]],
                 builtins: Mapping[str, Builtin],
                 toolkits: Mapping[str, Toolkit | None] | None = None, *,
                 data_configured: bool = False) -> None:
        self._spec = spec
        self._handlers = dict(handlers)
        self._builtins = dict(builtins)
        self._toolkits = toolkits if toolkits is not None else {}
        """Resolved toolkits by id (``None``: built-in or external MCP, served here)."""
        self._data_configured = data_configured
        self._cache: dict[str, tuple[list[dict[str, Any]], dict[str, ToolBinding]]] = {}
        self._external: dict[str, Any] = {}  # toolkit id -> MCPConnection, opened on first use
        self._direct_agents: dict[str, AgentSpec] = {}

    def for_agent(self, agent: AgentSpec) -> tuple[list[dict[str, Any]], dict[str, ToolBinding]]:
        """``(tool definitions for the model, {name: binding})`` of ``agent``."""
        cached = self._cache.get(agent.name)
        if cached is not None:
            return cached
        custom = {k: kit for k in agent.toolkits if (kit := self._toolkits.get(k)) is not None}
        rows = self._spec.tool_rows(agent, {k: kit.rows() for k, kit in custom.items()})
        kit_of = {row.name: kit for kit in agent.toolkits if kit not in custom
                  for row in self._spec.toolkit(kit).tools}
        kit_specs = {t.name: t for kit in custom.values() for t in kit.tools}
        defs: list[dict[str, Any]] = []
        bindings: dict[str, ToolBinding] = {}
        for row in rows:
            defs.append({"name": row.name, "description": row.description,
                         "input_schema": row.input_schema})
            if row.name in self._builtins:
                bindings[row.name] = ToolBinding(
                    row.name, compile_schema(row.input_schema, name=row.name), None, None,
                    self._builtins[row.name])
            elif row.name in kit_of:
                bindings[row.name] = ToolBinding(
                    row.name, compile_schema(row.input_schema, name=row.name), None,
                    toolkit_handler(kit_of[row.name], row.name), None)
            else:
                tool = kit_specs.get(row.name) or self._spec.tool(row.name)
                bindings[row.name] = ToolBinding(row.name, None, tool.validate_arguments,
                                                 self._handlers.get(row.name) or tool.handler,
                                                 None)
        for kit_id in agent.toolkits:
            kit = self._spec.toolkit(kit_id)
            if kit.external:
                self._add_external(agent, kit, defs, bindings)
        self._cache[agent.name] = (defs, bindings)
        return defs, bindings

    # -- external MCP toolkits ----------------------------------------------------------
    async def prepare(self, agent: AgentSpec) -> None:
        """Start ``agent``'s external MCP servers, off the loop: the server may be served
        by this very loop, as when a notebook serves and consumes itself."""
        if agent.name in self._cache:
            return
        import asyncio

        for kit_id in agent.toolkits:
            kit = self._spec.toolkit(kit_id)
            if kit.external:
                connection = self._connection(kit)
                await asyncio.get_running_loop().run_in_executor(None, connection.tools)

    def _connection(self, kit: Any) -> Any:
        connection = self._external.get(kit.id)
        if connection is None:
            from ..mcp.toolkit import MCPConnection

            connection = self._external[kit.id] = MCPConnection(
                kit.id, reveal(kit.config["mcp"]))  # tokens travel as SecretStr in the spec
        return connection

    def _add_external(self, agent: AgentSpec, kit: Any, defs: list[dict[str, Any]],
                      bindings: dict[str, ToolBinding]) -> None:
        connection = self._connection(kit)
        for row in connection.tools():
            name = row["name"]
            if name in bindings:
                raise ValueError(f"tool {name!r} of MCP toolkit {kit.id!r} clashes with another "
                                 f"tool of agent {agent.name!r}")
            defs.append(row)
            bindings[name] = ToolBinding(name, compile_schema(row["input_schema"], name=name),
                                         None, _external_handler(connection, name), None,
                                         policy_name=f"{kit.id}.{name}")

    def close(self) -> None:
        """Close the external MCP servers' connections (they restart on next use)."""
        for connection in self._external.values():
            connection.close()
        self._external = {}
        self._cache = {}

    # -- direct calls (Runtime.call_tool) ----------------------------------------------
    def direct_rows(self) -> list[dict[str, Any]]:
        """Tools a run can call directly: every Python tool with a handler, plus the data
        toolkits' tools when a data environment is configured."""
        rows = [{"name": name, "description": tool.description,
                 "input_schema": tool.input_schema, "output_schema": tool.output_schema}
                for name, tool in self._spec.tools_by_name.items() if name in self._handlers]
        if self._data_configured:
            rows += [{"name": row.name, "description": row.description,
                      "input_schema": row.input_schema, "output_schema": None}
                     for kit in DIRECT_TOOLKITS for row in BUILTIN_TOOLKITS[kit]]
        return rows

    def direct_names(self) -> set[str]:
        """The names of :meth:`direct_rows`, without building the rows."""
        names = {name for name in self._spec.tools_by_name if name in self._handlers}
        if self._data_configured:
            names.update(row.name for kit in DIRECT_TOOLKITS for row in BUILTIN_TOOLKITS[kit])
        return names

    def direct_agent(self, tool: str) -> AgentSpec:
        """The agent whose policies gate a direct call of ``tool``: of the agents that list
        it, the most careful (``always`` before ``dynamic`` before ``never``); else the
        coordinator (or the first agent). Worked out once per tool (the spec is fixed)."""
        agent = self._direct_agents.get(tool)
        if agent is None:
            agent = self._direct_agents[tool] = self._most_careful(tool)
        return agent

    def _most_careful(self, tool: str) -> AgentSpec:
        spec = self._spec
        listed = [a for a in spec.agents
                  if any(row.name == tool for row in spec.tool_rows(a))]
        candidates = listed or [spec.coordinator or spec.agents[0]]
        care = {"always": 0, "dynamic": 1, "never": 2}
        return min(candidates, key=lambda a: care[spec.tool_policy(a, tool).kind])

    def _direct_binding(self, name: str) -> ToolBinding | None:
        tool = self._spec.tools_by_name.get(name)
        if tool is not None and name in self._handlers:
            return ToolBinding(name, None, tool.validate_arguments, self._handlers[name], None)
        for kit in DIRECT_TOOLKITS if self._data_configured else ():
            row = next((r for r in BUILTIN_TOOLKITS[kit] if r.name == name), None)
            if row is not None:
                return ToolBinding(name, compile_schema(row.input_schema, name=name), None,
                                   toolkit_handler(kit, name), None)
        return None

    def definitions(self, agent: AgentSpec) -> list[dict[str, Any]]:
        """The tool definitions ``agent``'s model sees."""
        return self.for_agent(agent)[0]

    def binding(self, agent: AgentSpec, name: str, *,
                direct: bool = False) -> ToolBinding | None:
        """The binding of tool ``name`` for ``agent``, or ``None`` if it cannot call it
        (``direct``: a :meth:`Runtime.call_tool` run may also call a tool no agent lists)."""
        binding = self.for_agent(agent)[1].get(name)
        if binding is None and direct:
            binding = self._direct_binding(name)
        return binding


def _external_handler(connection: Any, tool: str) -> Callable[..., Any]:
    async def call(args: dict[str, Any], ctx: Any) -> Any:
        return await connection.call(tool, args)
    return call


async def call_handler(binding: ToolBinding, args: Any, ctx: Any, *,
                       timeout: float | None = None) -> Any:
    """Run a (non built-in) tool handler with validated ``args``; return its raw result.

    The one place a user's tool code runs, contained (see
    :mod:`~flowai_nb.engine.tool_exec`): a sync handler runs off the event loop,
    ``timeout`` bounds it, and any raise becomes a :class:`~.tool_exec.ToolError`
    the caller turns into a ``tool-result`` error.
    """
    assert binding.handler is not None
    return await run_contained(binding.handler, args, ctx, tool=binding.name, timeout=timeout)
