"""Shared base of the flowai widgets: assets, stable reprs, HTML helpers."""

from __future__ import annotations

import html
from typing import Any

import anywidget

from ..._json import JSONValueError, dumps
from .._assets import asset_text

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class FlowWidget(anywidget.AnyWidget):
    """An anywidget with a readable, deterministic text/plain and text/html form.

    Subclasses implement :meth:`_repr_text` (one line, no ids or times) and
    :meth:`_repr_html` (static HTML for nbconvert and other front ends
    without widgets).
    """

    _css = asset_text("flowai.css")

    def __repr__(self) -> str:
        return self._repr_text()

    def _repr_text(self) -> str:  # pragma: no cover - overridden
        return f"{type(self).__name__}()"

    def _repr_html(self) -> str:  # pragma: no cover - overridden
        return f"<pre>{html.escape(self._repr_text())}</pre>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return {
            "text/plain": self._repr_text(),
            "text/html": self._repr_html(),
            WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": self.model_id},
        }


def esc(value: Any) -> str:
    """HTML-escape any value (non-strings as compact JSON)."""
    return html.escape(value if isinstance(value, str) else to_json(value))


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON for display under the package's one JSON rule (sorted keys, NaN as null)."""
    try:
        return dumps(value, sort_keys=True, indent=indent, compact=False)
    except JSONValueError as exc:
        return f"<not JSON: {exc}>"


def kv_html(value: Any) -> str:
    """A mapping as a two-column table; anything else as preformatted JSON."""
    if isinstance(value, dict) and value:
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{esc(str(k))}</th>"
            f"<td><code>{esc(v)}</code></td></tr>"
            for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    return f"<pre>{html.escape(to_json(value, indent=2))}</pre>"


def frame(title: str, body: str, cls: str) -> str:
    """The outer box every static form uses."""
    return (
        f"<div class='flowai {cls}' style='border:1px solid #ccc;border-radius:4px;"
        f"padding:6px 10px;margin:4px 0'><div><b>{title}</b></div>{body}</div>"
    )
