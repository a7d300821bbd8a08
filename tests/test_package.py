"""Packaging facts a user relies on: a light import, assets in the wheel, docstrings."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import flowai_nb as fa

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_pull_heavy_dependencies() -> None:
    code = ("import sys, flowai_nb; heavy = ['pandas', 'duckdb', 'anthropic', 'ipywidgets', "
            "'anywidget', 'IPython', 'jsonschema', 'mcp', 'uvicorn', 'starlette']; "
            "print(json.dumps([m for m in heavy if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout) == []


def test_every_public_name_has_a_docstring() -> None:
    missing = [name for name in fa.__all__ if not (getattr(fa, name).__doc__ or "").strip()]
    assert missing == []


def test_wheel_contains_the_widget_assets(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("flowai_nb-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    widget_files = [p.name for p in (ROOT / "widgets").iterdir() if p.is_file()]
    assert widget_files, "widgets/ is empty"
    for name in widget_files:
        assert f"flowai_nb/static/{name}" in names


def test_a_run_with_built_in_tools_does_not_import_jsonschema() -> None:
    """jsonschema takes about a second to import: built-in tool schemas use the fast path."""
    code = """
import asyncio, json, sys
import flowai_nb as fa
spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
    fa.define_coordinator("c", model="m", prompt="p", routes=["s"]),
    fa.define_specialist("s", model="m", prompt="p", toolkits=["kv"])],
    providers={"scripted": {"scripts": {
        "c": [{"tool": "call_agent", "args": {"agent": "s", "prompt": "x"}}, {"text": "ok"}],
        "s": [{"tool": "kv_put", "args": {"key": "k", "value": 1}}, {"text": "ok"}]}}})
rt = fa.create_runtime(spec, interpreter="scripted")
events = asyncio.run(rt.query("x", "t").collect())
print(json.dumps([events[-1]["status"], "jsonschema" in sys.modules]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["completed", False]


def test_cli_prints_the_version_and_rejects_unknown_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "flowai_nb.cli", "version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == fa.__version__
    bad = subprocess.run([sys.executable, "-m", "flowai_nb.cli", "launch"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "invalid choice: 'launch'" in bad.stderr
