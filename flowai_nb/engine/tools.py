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
from ..authoring.toolkits import Toolkit
from ._util import maybe_await
from .toolkits import toolkit_handler

__all__ = ["ToolBinding", "ToolRegistry", "call_handler"]

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
                 toolkits: Mapping[str, Toolkit | None] | None = None) -> None:
        self._spec = spec
        self._handlers = dict(handlers)
        self._builtins = dict(builtins)
        self._toolkits = toolkits if toolkits is not None else {}
        """Resolved toolkits by id (``None``: built-in, served by the engine)."""
        self._cache: dict[str, tuple[list[dict[str, Any]], dict[str, ToolBinding]]] = {}

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
        self._cache[agent.name] = (defs, bindings)
        return defs, bindings

    def definitions(self, agent: AgentSpec) -> list[dict[str, Any]]:
        """The tool definitions ``agent``'s model sees."""
        return self.for_agent(agent)[0]

    def binding(self, agent: AgentSpec, name: str) -> ToolBinding | None:
        """The binding of tool ``name`` for ``agent``, or ``None`` if it cannot call it."""
        return self.for_agent(agent)[1].get(name)


async def call_handler(binding: ToolBinding, args: Any, ctx: Any) -> Any:
    """Run a (non built-in) tool handler with validated ``args``; return its raw result.

    The one place a user's tool code runs: exceptions propagate to the caller,
    which turns them into a ``tool-result`` error.
    """
    assert binding.handler is not None
    return await maybe_await(binding.handler(args, ctx))
