"""A two-workspace app for ``flowai-nb studio tests.studio.multi_app:app`` in a subprocess.

Each workspace keeps its SQLite store in the folder named by ``FLOWAI_NB_MULTI_DIR``.
Both are factories: nothing is opened until a workspace is first used.
"""

from __future__ import annotations

import os
from pathlib import Path

import flowai_nb as fa
from tests.mcp.mcp_app import build_runtime

DIR_ENV = "FLOWAI_NB_MULTI_DIR"


def _store(name: str) -> str:
    return str(Path(os.environ[DIR_ENV]) / f"{name}.db")


app = fa.define_app("multi", workspaces=[
    fa.define_workspace_runtime("main", lambda: build_runtime(_store("main"))),
    fa.define_workspace_runtime("Zürich east", lambda: build_runtime(_store("zurich"))),
])
