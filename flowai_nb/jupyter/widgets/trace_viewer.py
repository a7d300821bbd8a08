"""The trace viewer: a span timeline and a filterable event log."""

from __future__ import annotations

from typing import Any

import traitlets

from .._assets import asset_text
from .._events import EventLog, RunState, run_outcome, timeline
from ._base import FlowWidget, esc, fmt_duration, fmt_usage, frame


class TraceViewer(FlowWidget):
    """One recorded trace: agents and tools as bars against time, plus its events.

    Args:
        trace: a trace dict as returned by ``runtime.get_trace(trace_id)``.
            Runs of text deltas are merged in the event log.
    """

    _esm = asset_text("_common.js", "trace_viewer.js")

    trace = traitlets.Dict({}).tag(sync=True)
    timeline = traitlets.List([], help="agents, tools and approval waits with start/end "
                                       "time and seq, depth, status, usage").tag(sync=True)

    def __init__(self, trace: dict[str, Any]) -> None:
        if not isinstance(trace, dict):
            raise TypeError(f"TraceViewer needs a trace dict, got {type(trace).__name__}")
        log, state = EventLog(), RunState()
        for event in trace.get("events") or []:
            log.add(event)
            state.apply(event)
        self.state = state
        """The trace's events folded (status, tools, plans, approvals, timings)."""
        super().__init__(trace={**trace, "events": log.events()}, timeline=timeline(state))

    @classmethod
    def from_runtime(cls, runtime: Any, trace_id: str) -> TraceViewer:
        """The viewer for ``trace_id`` in ``runtime``'s trace store.

        Raises:
            LookupError: the runtime has no trace with that id.
        """
        trace = runtime.get_trace(trace_id)
        if trace is None:
            recent = [t.get("traceId") for t in runtime.list_traces()[-5:]]
            raise LookupError(f"no trace with id {trace_id!r}; recent trace ids: {recent}")
        return cls(trace)

    def _repr_text(self) -> str:
        trace = self.trace
        return (
            f"TraceViewer(status={trace.get('status')!r}, "
            f"spans={len(trace.get('spans') or [])}, events={len(trace.get('events') or [])})"
        )

    def _repr_html(self) -> str:
        rows = []
        for row in self.timeline:
            indent = "&nbsp;&nbsp;" * row["depth"]
            duration = (row["end"] - row["start"]) if row["end"] is not None \
                and row["start"] is not None else None
            facts = " · ".join(p for p in (fmt_duration(duration), fmt_usage(row["usage"])) if p)
            rows.append(
                f"<tr><td>{indent}{esc(row['kind'])} <code>{esc(row['name'])}</code></td>"
                f"<td>{esc(row['status'])}</td><td>{esc(facts)}</td></tr>"
            )
        types: dict[str, int] = {}
        for event in self.trace.get("events") or []:
            types[event.get("type", "?")] = types.get(event.get("type", "?"), 0) + 1
        counts = ", ".join(f"{k} ×{v}" for k, v in sorted(types.items()))
        state = self.state
        facts = " · ".join(
            p for p in (fmt_duration(state.duration_ms), fmt_usage(state.usage)) if p)
        body = (
            (f"<div>{esc(facts)}</div>" if facts else "")
            + "<table><tr><th>step</th><th>status</th><th>time · tokens</th></tr>"
            f"{''.join(rows)}</table><div><i>events:</i> {esc(counts)}</div>"
        )
        status = self.trace.get("status", "")
        headline = " · ".join(p for p in (status, run_outcome(state)) if p)
        return frame(f"trace · {esc(headline)}", body, "flowai-trace")


class TraceTable:
    """Recent traces as a table (what ``%flowai_traces`` shows without an id)."""

    def __init__(self, traces: list[dict[str, Any]]) -> None:
        self.traces = traces

    def _rows(self) -> list[tuple[str, str, str, str, int]]:
        return [
            (
                str(t.get("traceId", "")), str(t.get("threadId", "")), str(t.get("status", "")),
                _duration(t), len(t.get("events") or []),
            )
            for t in self.traces
        ]

    def __repr__(self) -> str:
        if not self.traces:
            return "No traces recorded yet."
        lines = [f"{len(self.traces)} trace(s), newest last:"]
        lines += [f"  {tid}  thread={th}  {st}  {d}  {n} events"
                  for tid, th, st, d, n in self._rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.traces:
            return "<i>No traces recorded yet.</i>"
        rows = "".join(
            f"<tr><td><code>{esc(tid)}</code></td><td>{esc(th)}</td><td>{esc(st)}</td>"
            f"<td>{esc(d)}</td><td>{n}</td></tr>"
            for tid, th, st, d, n in self._rows()
        )
        return (
            "<table><tr><th>trace</th><th>thread</th><th>status</th><th>duration</th>"
            f"<th>events</th></tr>{rows}</table>"
            "<div><i>show one with</i> <code>%flowai_traces TRACE_ID</code></div>"
        )


def _duration(trace: dict[str, Any]) -> str:
    start, end = trace.get("startedAt"), trace.get("endedAt")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return f"{(end - start) / 1000:.2f} s"
    return "running"
