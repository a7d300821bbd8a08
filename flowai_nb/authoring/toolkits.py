"""Built-in toolkits and role tools, as pure data (names, descriptions, input schemas).

The handlers live in the engine and the data environment; the spec only
needs the rows to validate names and to render each agent's tools table.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from ._base import SpecModel

__all__ = ["ToolkitSpec", "ToolRow", "BUILTIN_TOOLKITS", "ROLE_TOOLS", "BUILTIN_TOOL_NAMES"]


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
    """Attaches a toolkit to an agent: a built-in one (``catalog``, ``sql``, ``references``,
    ``kv``) or an external MCP server's tools (``config={"mcp": {"command": [...]}}`` or
    ``{"mcp": {"url": ...}}``; see :mod:`flowai_nb.mcp.toolkit`)."""

    id: str
    config: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"id": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _known(self) -> ToolkitSpec:
        if self.external is None and self.id not in BUILTIN_TOOLKITS:
            raise ValueError(
                f"unknown toolkit {self.id!r}; built-in toolkits are {sorted(BUILTIN_TOOLKITS)}"
                f", or give config={{'mcp': {{'command': [...]}}}} (or {{'url': ...}}) for an "
                f"external MCP server's tools"
            )
        return self

    @property
    def external(self) -> str | None:
        """``"mcp"`` when the tools come from an external MCP server (``config["mcp"]``)."""
        return "mcp" if isinstance(self.config, dict) and "mcp" in self.config else None

    @property
    def tools(self) -> tuple[ToolRow, ...]:
        """The toolkit's tool rows (``()`` for an external server's: known at run time)."""
        return () if self.external else BUILTIN_TOOLKITS[self.id]

    def __repr__(self) -> str:
        return f"ToolkitSpec({self.id!r})"
