"""Toolkits: the built-in ones (as pure data), custom ones, and toolkit providers.

Built-in toolkit handlers live in the engine and the data environment; the
spec only needs their rows to render each agent's tools table. Custom
toolkits (:func:`define_toolkit`) carry their own bound tools; a provider
(:func:`register_toolkit_provider`) serves toolkits from elsewhere, such as an
external MCP server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from pydantic import Field, field_validator, model_validator

from ._base import SpecModel
from .secrets import hide_secrets
from .tools import ToolSpec, bound_tool

__all__ = [
    "ToolkitSpec", "ToolRow", "Toolkit", "ToolkitProvider", "BUILTIN_TOOLKITS", "ROLE_TOOLS",
    "BUILTIN_TOOL_NAMES", "define_toolkit", "register_toolkit_provider", "resolve_toolkit",
    "known_toolkit_ids", "toolkit_tools",
]


class ToolRow(SpecModel):
    """One tool's public description: what a model sees."""

    name: str
    description: str
    input_schema: dict[str, Any]


def _obj(required: list[str] | None = None, **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or [],
            "additionalProperties": False}


_STR = {"type": "string"}
_REF = {"description": "a reference envelope {kind, id, ...} or 'kind:id'",
        "anyOf": [{"type": "object"}, {"type": "string"}]}


def _rows(*rows: tuple[str, str, dict[str, Any]]) -> tuple[ToolRow, ...]:
    return tuple(ToolRow(name=n, description=d, input_schema=s) for n, d, s in rows)


BUILTIN_TOOLKITS: dict[str, tuple[ToolRow, ...]] = {
    "catalog": _rows(
        ("list_tables", "List the tables of the data environment with row counts.", _obj()),
        ("describe_table", "Columns, types, null rates and sample values of one table.",
         _obj(["table"], table=_STR)),
        ("search_catalog", "Full-text search over tables, columns and descriptions.",
         _obj(["query"], query=_STR, limit={"type": "integer", "minimum": 1, "default": 10})),
        ("lookup_glossary", "Look up a business term in the glossary.", _obj(["term"], term=_STR)),
    ),
    "sql": _rows(
        ("run_sql", "Run one read-only SELECT/WITH query; large results come back as a "
         "reference with a glimpse.",
         _obj(["sql"], sql=_STR, limit={"type": "integer", "minimum": 1, "default": 1000})),
    ),
    "references": _rows(
        ("get_glimpse", "The stored glimpse (summary) of a reference.", _obj(["reference"],
                                                                          reference=_REF)),
        ("resolve_reference", "The full stored value of a reference.",
         _obj(["reference"], reference=_REF)),
    ),
    "kv": _rows(
        ("kv_get", "Read a value from the tenant's key-value store.", _obj(["key"], key=_STR)),
        ("kv_put", "Write a JSON value to the tenant's key-value store.",
         _obj(["key", "value"], key=_STR, value={})),
        ("kv_list", "List keys starting with a prefix.", _obj([], prefix=_STR)),
    ),
}

ROLE_TOOLS: dict[str, tuple[ToolRow, ...]] = {
    "coordinator": _rows(
        ("call_agent", "Hand a request to another agent and get its final answer.",
         _obj(["agent", "prompt"], agent=_STR, prompt=_STR)),
    ),
    "planner": _rows(
        ("store_plan", "Validate a plan body against the plan's schema and store it as a draft.",
         _obj(["body"], plan=_STR, plan_id=_STR, body={"type": "object"})),
    ),
    "executor": _rows(
        ("execute_plan", "Submit a stored plan for approval and execute its actions.",
         _obj(["plan_id"], plan_id=_STR)),
    ),
    "specialist": (),
}

BUILTIN_TOOL_NAMES = frozenset(
    row.name for rows in (*BUILTIN_TOOLKITS.values(), *ROLE_TOOLS.values()) for row in rows
)


class ToolkitSpec(SpecModel):
    """Attaches a toolkit to an agent, by stable id.

    ``id`` names a built-in toolkit (``catalog``, ``sql``, ``references``,
    ``kv``), a toolkit declared with :func:`define_toolkit`, an external MCP
    server's tools (``config={"mcp": {"command": [...]}}`` or ``{"mcp": {"url":
    ...}}``; see :mod:`flowai_nb.mcp.toolkit`; the server starts on first use),
    or, when ``config`` is a mapping with another provider key, a toolkit served
    by that provider (see :func:`register_toolkit_provider`).
    Any non-empty id is accepted here; an id nothing provides is a clear error
    at ``create_runtime``, naming it and the known ids. A plain string is
    accepted wherever a ToolkitSpec is expected (``"sql"`` becomes
    ``ToolkitSpec(id="sql")``). Secrets in ``config`` (keys ending in ``token``,
    ``apiKey``, ``password``, ``secret``, ``authorization``; URLs with a
    password) are ``SecretStr`` values; a provider unwraps them with
    :func:`flowai_nb.authoring.secrets.reveal`.
    """

    id: str = Field(min_length=1)
    config: Any | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"id": data} if isinstance(data, str) else data

    @field_validator("config")
    @classmethod
    def _secrets(cls, value: Any) -> Any:
        # Tokens, keys and passwords in the config dump as ********** (reveal() unwraps).
        return hide_secrets(value)

    @property
    def tools(self) -> tuple[ToolRow, ...]:
        """The toolkit's tool rows when known before a runtime exists (built-in or
        :func:`define_toolkit`); ``()`` for provider-served toolkits."""
        if self.id in BUILTIN_TOOLKITS:
            return BUILTIN_TOOLKITS[self.id]
        kit = _TOOLKITS.get(self.id)
        if kit is None or self.external or self.provider_key() is not None:
            return ()
        return kit.rows()

    @property
    def external(self) -> str | None:
        """``"mcp"`` when the tools come from an external MCP server (``config["mcp"]``)."""
        return "mcp" if isinstance(self.config, Mapping) and "mcp" in self.config else None

    def provider_key(self) -> str | None:
        """The registered provider key in ``config`` (e.g. ``"mcp"``), if any."""
        if isinstance(self.config, Mapping):
            return next((k for k in self.config if k in _PROVIDERS), None)
        return None

    def __repr__(self) -> str:
        config = f", config={self.config!r}" if self.config is not None else ""
        return f"ToolkitSpec({self.id!r}{config})"


def _row(tool: ToolSpec) -> ToolRow:
    return ToolRow(name=tool.name, description=tool.description, input_schema=tool.input_schema)


@dataclass(frozen=True)
class Toolkit:
    """A named set of tools with Python handlers: what a toolkit id resolves to.

    Built by :func:`define_toolkit`, or returned by a toolkit provider.

    Attributes:
        id: the toolkit id agents name in ``toolkits=[...]``.
        tools: bound :class:`ToolSpec` values (each with a handler).
        description: one line shown in reprs and docs.
        close: optional ``close()`` (sync or async) the runtime calls when it
            closes (e.g. to stop an MCP server process).
    """

    id: str
    tools: tuple[ToolSpec, ...]
    description: str = ""
    close: Callable[[], Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"toolkit id must be a non-empty string; got {self.id!r}")
        tools = tuple(self.tools)
        seen: set[str] = set()
        for tool in tools:
            bound_tool(tool, f"toolkit {self.id!r}")
            if tool.name in BUILTIN_TOOL_NAMES:
                raise ValueError(f"toolkit {self.id!r}: tool name {tool.name!r} is reserved "
                                 f"for a built-in tool")
            if tool.name in seen:
                raise ValueError(f"toolkit {self.id!r} has two tools named {tool.name!r}")
            seen.add(tool.name)
        object.__setattr__(self, "tools", tools)

    def rows(self) -> tuple[ToolRow, ...]:
        """The tools' public rows (name, description, input schema)."""
        return tuple(_row(tool) for tool in self.tools)

    def __repr__(self) -> str:
        return f"Toolkit({self.id!r}, tools={[t.name for t in self.tools]})"


ToolkitProvider = Callable[[ToolkitSpec], Toolkit]
"""``provider(spec) -> Toolkit``: serves a :class:`ToolkitSpec` whose ``config`` has its key."""

_TOOLKITS: dict[str, Toolkit] = {}
_PROVIDERS: dict[str, ToolkitProvider | str] = {}


def define_toolkit(id: str, tools: Iterable[ToolSpec], *, description: str = "") -> ToolkitSpec:  # noqa: A002
    """Declare a custom toolkit and return the :class:`ToolkitSpec` that attaches it.

    Agents attach it like a built-in one, by the spec or by its id::

        @define_tool("ticket_open", "Open a support ticket", {"title": str})
        def ticket_open(args, ctx):
            return {"ticket": 17, "title": args["title"]}

        support = define_toolkit("support", tools=[ticket_open], description="Ticketing")
        define_specialist("helpdesk", model="m", prompt="...", toolkits=[support])
        # or toolkits=["support"], or ToolkitSpec(id="support")

    The toolkit is registered for this process under ``id`` (defining the same
    id again replaces it, so re-running a notebook cell works). Built-in ids
    cannot be redefined.

    Raises:
        ValueError: a built-in id, a tool without handler, duplicate tool names.
        TypeError: a tool that is not a ToolSpec.
    """
    if id in BUILTIN_TOOLKITS:
        raise ValueError(f"toolkit id {id!r} is built in; choose another id "
                         f"(built-in toolkits: {sorted(BUILTIN_TOOLKITS)})")
    if isinstance(tools, ToolSpec | str | bytes):
        tools = [tools]  # type: ignore[list-item]
    kit = Toolkit(id=id, tools=tuple(tools), description=description)
    _TOOLKITS[id] = kit
    return ToolkitSpec(id=id)


def register_toolkit_provider(key: str, provider: ToolkitProvider | str) -> None:
    """Serve every :class:`ToolkitSpec` whose ``config`` mapping has ``key``.

    ``provider(spec) -> Toolkit`` is called by ``create_runtime`` for each such
    toolkit; it may also be given as an ``"module:attribute"`` string, imported
    on first use. (``{"mcp": {...}}`` configs need no provider: the engine
    starts external MCP servers itself, lazily.)::

        def provide_echo(spec):
            return Toolkit(id=spec.id, tools=(make_echo_tool(spec.config["echo"]),))

        register_toolkit_provider("echo", provide_echo)
    """
    if not isinstance(key, str) or not key or key == "mcp":
        raise ValueError(f"provider key must be a non-empty string other than 'mcp' (served "
                         f"by the engine); got {key!r}")
    if not (callable(provider) or (isinstance(provider, str) and ":" in provider)):
        raise TypeError(f"provider must be a callable or a 'module:attribute' string; "
                        f"got {provider!r}")
    _PROVIDERS[key] = provider


def known_toolkit_ids() -> list[str]:
    """Built-in ids plus every id declared with :func:`define_toolkit`."""
    return sorted(BUILTIN_TOOLKITS) + sorted(_TOOLKITS)


def toolkit_tools(spec: ToolkitSpec) -> tuple[ToolSpec, ...]:
    """The ToolSpecs of a :func:`define_toolkit` toolkit (``()`` for built-in,
    provider-served or unknown ids)."""
    if spec.external or spec.provider_key() is not None or spec.id in BUILTIN_TOOLKITS:
        return ()
    kit = _TOOLKITS.get(spec.id)
    return kit.tools if kit is not None else ()


def resolve_toolkit(spec: ToolkitSpec) -> Toolkit | None:
    """What ``spec`` names: ``None`` for a built-in or external MCP toolkit (the engine
    serves those), the provider's :class:`Toolkit` when its config has a provider
    key, the :func:`define_toolkit` toolkit of that id otherwise.

    Raises:
        ValueError: nothing provides the id (the message names it and the known ids),
            or the provider returned something other than a Toolkit.
        ImportError: a provider given as an import path cannot be imported.
    """
    if spec.external:
        return None
    key = spec.provider_key()
    if key is not None:
        provider = _PROVIDERS[key]
        if isinstance(provider, str):
            module, _, attr = provider.partition(":")
            try:
                provider = getattr(import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise ImportError(f"toolkit {spec.id!r}: the {key!r} toolkit provider "
                                  f"{provider!r} is not available ({exc})") from exc
            _PROVIDERS[key] = provider
        kit = provider(spec)
        if not isinstance(kit, Toolkit):
            raise ValueError(f"toolkit provider {key!r} returned {kit!r} for toolkit "
                             f"{spec.id!r}; expected a Toolkit")
        return kit
    if spec.id in BUILTIN_TOOLKITS:
        return None
    if spec.id in _TOOLKITS:
        return _TOOLKITS[spec.id]
    raise ValueError(
        f"unknown toolkit {spec.id!r}; known toolkits: {known_toolkit_ids()}. Declare it with "
        f"define_toolkit({spec.id!r}, tools=[...]), give config={{'mcp': {{'command': [...]}}}} "
        f"for an external MCP server, or serve it from a provider with config {{key: ...}} for "
        f"one of {sorted(_PROVIDERS)}"
    )
