"""The toolkit handler table the engine dispatches to."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from flowai_nb.authoring.toolkits import BUILTIN_TOOLKITS
from flowai_nb.data.toolkits import TOOLKIT_HANDLERS


def test_handlers_match_the_toolkit_specs() -> None:
    assert set(TOOLKIT_HANDLERS) == {"catalog", "sql"}
    for toolkit, handlers in TOOLKIT_HANDLERS.items():
        assert set(handlers) == {row.name for row in BUILTIN_TOOLKITS[toolkit]}
        for handler in handlers.values():
            assert list(inspect.signature(handler).parameters) == ["args", "ctx"]


def test_every_tool_returns_json(ctx: SimpleNamespace) -> None:
    calls = [
        ("catalog", "list_tables", {}),
        ("catalog", "describe_table", {"table": "sales"}),
        ("catalog", "search_catalog", {"query": "discount", "limit": 3}),
        ("catalog", "lookup_glossary", {"term": "anything"}),
        ("sql", "run_sql", {"sql": "SELECT * FROM sales ORDER BY sale_id", "limit": 5}),
    ]
    for toolkit, tool, args in calls:
        result = TOOLKIT_HANDLERS[toolkit][tool](args, ctx)
        assert json.loads(json.dumps(result, allow_nan=False)) == result, tool


def test_search_limit_defaults_to_10(ctx: SimpleNamespace) -> None:
    out = TOOLKIT_HANDLERS["catalog"]["search_catalog"]({"query": "id"}, ctx)
    assert out["query"] == "id" and 1 <= len(out["results"]) <= 10


def test_handlers_without_a_data_environment_say_how_to_configure_one() -> None:
    ctx = SimpleNamespace(data=None, references=None)
    for handlers in TOOLKIT_HANDLERS.values():
        for handler in handlers.values():
            with pytest.raises(RuntimeError, match="data_environment="):
                handler({"table": "x", "query": "x", "term": "x", "sql": "SELECT 1"}, ctx)


def test_importing_the_package_does_not_import_duckdb_or_pandas() -> None:
    code = ("import sys, flowai_nb.data, flowai_nb.data.toolkits; "
            "print(sorted(m for m in ('duckdb', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
