"""Handlers of the built-in ``catalog`` and ``sql`` toolkits.

Each handler is ``fn(args, ctx) -> JSON value`` and reads the data
environment from ``ctx.data``. Failures raise with a readable message (the
engine turns them into tool errors the model sees).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["TOOLKIT_HANDLERS"]


def _env(ctx: Any) -> Any:
    builtin = getattr(ctx, "builtin", None)  # the data environment even if a service shadows it
    data = builtin("data") if builtin is not None else getattr(ctx, "data", None)
    if data is None:
        raise RuntimeError("the catalog and sql toolkits need a data environment: pass "
                           "data_environment=... (or target_database_url=...) to create_runtime")
    return data


def list_tables(args: dict, ctx: Any) -> dict:
    """``list_tables()``: the tables with descriptions and row counts."""
    return _env(ctx).list_tables()


def describe_table(args: dict, ctx: Any) -> dict:
    """``describe_table(table)``: columns, types, null rates, samples, foreign keys."""
    return _env(ctx).describe_table(args.get("table"))


def search_catalog(args: dict, ctx: Any) -> dict:
    """``search_catalog(query, limit=10)``: BM25 search over the catalog."""
    return _env(ctx).search_catalog(args.get("query"), args.get("limit", 10))


def lookup_glossary(args: dict, ctx: Any) -> dict:
    """``lookup_glossary(term)``: business terms and their definitions."""
    return _env(ctx).lookup_glossary(args.get("term"))


def run_sql(args: dict, ctx: Any) -> dict:
    """``run_sql(sql, limit=1000)``: one read-only query; large results become references
    holding every row up to the caps, with the full row count."""
    return _env(ctx).run_sql(args.get("sql"), args.get("limit", 1000),
                             references=getattr(ctx, "references", None))


TOOLKIT_HANDLERS: dict[str, dict[str, Callable[[dict, Any], Any]]] = {
    "catalog": {"list_tables": list_tables, "describe_table": describe_table,
                "search_catalog": search_catalog, "lookup_glossary": lookup_glossary},
    "sql": {"run_sql": run_sql},
}
