"""Shared base of the flowai widgets: assets, stable reprs, HTML helpers."""

from __future__ import annotations

import html
import uuid
from typing import Any

import anywidget

from ..._json import JSONValueError, dumps
from .._assets import asset_text

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class StaticForms:
    """Outputs that keep their static (text/plain, text/html) form up to date.

    Displaying the object gives the output a display id; :meth:`refresh_static`
    re-sends the current bundle to every output showing it (an
    ``update_display_data``), so a notebook saved or converted after a run
    ended shows the final state, not the one at display time.
    """

    _display_id: str | None = None

    def _bundle(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self._display_id is None:
            self._display_id = f"flowai-{uuid.uuid4().hex}"
        display(self._bundle(), raw=True, display_id=self._display_id)

    def refresh_static(self) -> None:
        """Bring every displayed output of this object up to date (no-op if never shown)."""
        if self._display_id is None:
            return
        from IPython.display import update_display

        update_display(self._bundle(), raw=True, display_id=self._display_id)


class FlowWidget(StaticForms, anywidget.AnyWidget):
    """An anywidget with a readable, deterministic text/plain and text/html form.

    Subclasses implement :meth:`_repr_text` (one line, no ids or times) and
    :meth:`_repr_html` (static HTML for nbconvert and other front ends
    without widgets).
    """

    _css = asset_text("flowai.css")
    _closed = False

    def __repr__(self) -> str:
        return self._repr_text()

    def close(self) -> None:
        """Close the widget; every output showing it keeps its last state, as static HTML.

        Closing a widget's comm removes its live view from the page, so a clean-up cell
        (or ``Widget.close_all()``) would blank the results a notebook shows. Each output
        showing this widget is first replaced by its static form (text/plain and
        text/html), which a saved notebook keeps too.
        """
        if self.comm is not None:
            self._closed = True
            self.refresh_static()
        super().close()

    def _bundle(self) -> dict[str, Any]:
        if self._closed:  # no live view any more: the static form only
            return {"text/plain": self._repr_text(), "text/html": self._repr_html()}
        return self._repr_mimebundle_()

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
    """The outer box every static form uses (theme colours where the page has them)."""
    return (
        f"<div class='flowai {cls}' style='border:1px solid var(--jp-border-color2,#ccc);"
        "border-radius:4px;padding:6px 10px;margin:4px 0'>"
        f"<div><b>{title}</b></div>{body}</div>"
    )


ERROR_STYLE = "color:var(--jp-error-color1,#b00)"
"""Inline style of an error line in a static form."""


def fmt_duration(ms: int | float | None) -> str:
    """``850 ms``, ``2.40 s``, ``3m 05s``; empty when unknown."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    seconds = round(ms / 1000)
    return f"{seconds // 60}m {seconds % 60:02d}s"


def fmt_usage(usage: dict[str, Any]) -> str:
    """``12 in / 3 out tokens · $0.0012``; empty when nothing was reported."""
    parts = []
    if usage.get("inputTokens") or usage.get("outputTokens"):
        parts.append(f"{usage.get('inputTokens') or 0:,} in / "
                     f"{usage.get('outputTokens') or 0:,} out tokens")
    if usage.get("costUsd"):
        parts.append(f"${usage['costUsd']:.4f}")
    return " · ".join(parts)
