"""Locate the widgets' ES modules and CSS.

A wheel ships them as ``flowai_nb/static/`` (hatch ``force-include`` of the
top-level ``widgets/`` folder); an editable install reads ``<repo>/widgets/``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent
_SEARCH = (_PACKAGE / "static", _PACKAGE.parent / "widgets")


def asset_path(name: str) -> Path:
    """The path of the front-end file ``name`` (for example ``"run_view.js"``)."""
    for folder in _SEARCH:
        path = folder / name
        if path.is_file():
            return path
    searched = ", ".join(str(folder) for folder in _SEARCH)
    raise FileNotFoundError(
        f"flowai_nb widget asset {name!r} not found (searched {searched}); "
        "reinstall flowai_nb or restore the widgets/ folder"
    )


@cache
def asset_text(*names: str) -> str:
    """The contents of one or more assets, concatenated in order."""
    return "\n".join(asset_path(name).read_text(encoding="utf-8") for name in names)
