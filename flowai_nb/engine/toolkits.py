"""Handlers of the engine's own toolkits (``references``, ``kv``) and toolkit lookup."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DATA_TOOLS", "toolkit_handler"]

DATA_TOOLS = frozenset({"list_tables", "describe_table", "search_catalog", "lookup_glossary",
                        "run_sql"})
"""The tools of the ``catalog`` and ``sql`` toolkits (served by the data environment)."""


def _get_glimpse(args: dict[str, Any], ctx: Any) -> Any:
    return ctx.references.glimpse(args["reference"])


def _resolve_reference(args: dict[str, Any], ctx: Any) -> Any:
    return ctx.references.resolve(args["reference"])


def _check_key(key: str) -> str:
    if not key or len(key) > 512:
        raise ValueError(f"kv key must be 1-512 characters; got {key!r}")
    return key


def _kv_get(args: dict[str, Any], ctx: Any) -> Any:
    return {"key": args["key"], "value": ctx.builtin("kv").get(_check_key(args["key"]))}


def _kv_put(args: dict[str, Any], ctx: Any) -> Any:
    ctx.builtin("kv").put(_check_key(args["key"]), args["value"])
    return {"key": args["key"], "stored": True}


def _kv_list(args: dict[str, Any], ctx: Any) -> Any:
    prefix = args.get("prefix", "")
    return {"prefix": prefix, "keys": ctx.builtin("kv").keys(prefix)}


_ENGINE_TOOLKITS: dict[str, dict[str, Callable[[dict[str, Any], Any], Any]]] = {
    "references": {"get_glimpse": _get_glimpse, "resolve_reference": _resolve_reference},
    "kv": {"kv_get": _kv_get, "kv_put": _kv_put, "kv_list": _kv_list},
}


def toolkit_handler(toolkit: str, tool: str) -> Callable[[dict[str, Any], Any], Any]:
    """The handler of a built-in toolkit's tool (data toolkits load on first use)."""
    if toolkit in _ENGINE_TOOLKITS:
        return _ENGINE_TOOLKITS[toolkit][tool]

    def data_tool(args: dict[str, Any], ctx: Any) -> Any:
        if ctx.builtin("data") is None:
            raise RuntimeError(
                f"tool {tool!r} needs a data environment; pass create_runtime("
                f"data_environment=...) or target_database_url=..."
            )
        from ..data.toolkits import TOOLKIT_HANDLERS

        return TOOLKIT_HANDLERS[toolkit][tool](args, ctx)

    return data_tool
