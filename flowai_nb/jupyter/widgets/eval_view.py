"""The eval view: live progress of an eval run, then per-case results, scores and traces."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import traitlets

from .._assets import asset_text
from ._base import ERROR_STYLE, FlowWidget, esc, frame
from .trace_viewer import TraceViewer

__all__ = ["EvalView", "eval_view"]

_TEXT_LIMIT = 4000  # characters of an opened sample's final text sent to the front end
_NOTE_LIMIT = 60  # characters of final text (or error) shown on a sample's table row
_BAR_WIDTH = 24


class EvalView(FlowWidget):
    """An eval run: a progress bar while it runs, then a per-case table and a score chart.

    Start one with :func:`eval_view` (or :meth:`start`); it returns at once and
    the run continues as a task on the kernel's event loop. ``await view`` (or
    ``await view.wait()``) returns the :class:`~flowai_nb.evals.EvalArtifact`.
    Click a sample row (or call :meth:`open_sample`) to see its scorer
    components and its trace in a :class:`TraceViewer`.

    Envelopes are folded into Python state as they arrive; traits are sent at
    most once per ``flush_interval`` seconds, each time in one message.
    """

    _esm = asset_text("_common.js", "eval_view.js")
    _css = asset_text("flowai.css", "data_view.css", "eval_view.css")

    name = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode(
        "pending", help="pending, running, finished, failed or cancelled").tag(sync=True)
    total = traitlets.Int(0, help="samples in the run").tag(sync=True)
    done = traitlets.Int(0, help="samples finished").tag(sync=True)
    passed = traitlets.Int(0, help="samples passed").tag(sync=True)
    cases = traitlets.List([], help="[{id, samples, finished, passRate, meanScore, passAtK, "
                                    "latencyMs}]").tag(sync=True)
    result = traitlets.Dict({}, help="{aggregateScore, passed, threshold, strategy}").tag(
        sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    selected = traitlets.Dict({}, help="the opened sample: {caseId, index, score, passed, "
                                        "components, trajectory, finalText, error}").tag(sync=True)
    trace_ref = traitlets.Unicode("", help="anywidget ref of the opened TraceViewer").tag(
        sync=True)

    def __init__(self, *, runtime: Any = None, flush_interval: float = 0.05,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.flush_interval = flush_interval
        self.artifact: Any = None
        """The :class:`~flowai_nb.evals.EvalArtifact` once the run finished."""
        self.trace_viewer: TraceViewer | None = None
        """The viewer of the opened sample's trace."""
        self._state: dict[str, Any] = {"cases": {}, "order": [], "done": 0, "passed": 0}
        self._details: dict[tuple[str, int], dict[str, Any]] = {}  # full samples, kernel-side
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._exception: BaseException | None = None
        self.on_msg(_on_message)

    # -- starting and waiting -------------------------------------------------------------

    @classmethod
    def start(cls, runtime: Any, request: Any, *, flush_interval: float = 0.05,
              progress: bool | None = None) -> EvalView:
        """Run ``request`` on ``runtime`` in the background and return the view at once.

        In a notebook (a running event loop) the eval is a task on that loop; progress
        shows in the widget (``progress=True`` also writes a progress line to stderr).
        With no running loop (a script) it runs to the end before this returns, drawing a
        progress line on stderr (``progress=False`` turns it off).

        Raises:
            ValueError: ``request`` does not parse (raised here, before anything runs).
        """
        from ...evals import parse_eval_request, stream_eval

        request = parse_eval_request(request)  # a bad request fails here, not in the task
        view = cls(runtime=runtime, flush_interval=flush_interval, name=request.name or "eval")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a script: nothing else can run meanwhile
            loop = None
        if loop is not None:
            stream = stream_eval(runtime, request, progress=bool(progress))
            view._task = loop.create_task(view._consume(stream), name="flowai eval view")
            view._task.add_done_callback(view._on_done)
            return view
        stream = stream_eval(runtime, request,
                             progress=sys.stderr if progress is None else progress)
        asyncio.run(view._consume(stream))
        if view._exception is not None:
            raise view._exception
        return view

    @classmethod
    def from_artifact(cls, artifact: Any, *, runtime: Any = None) -> EvalView:
        """The view of a finished eval (an ``EvalArtifact`` or its dict form)."""
        data = artifact.to_wire() if hasattr(artifact, "to_wire") else dict(artifact)
        view = cls(runtime=runtime)
        view._fold({"type": "eval-start", "data": {
            "name": data.get("name"), "caseIds": [c["id"] for c in data["testCases"]],
            "totalSamples": sum(len(c["samples"]) for c in data["testCases"])}})
        view._fold({"type": "eval-finish", "data": data})
        view._flush()
        return view

    async def wait(self) -> Any:
        """Wait for the run to end and return its ``EvalArtifact`` (same as ``await view``).

        Returns ``None`` when the eval was cancelled.

        Raises:
            The error that ended the eval, if it failed.
        """
        if self._task is not None:
            try:
                await asyncio.shield(self._task)
            except asyncio.CancelledError:
                if not self._task.cancelled():  # we were cancelled, not the eval
                    raise
        self.refresh_static()  # from the waiting cell too: see RunHandle.wait
        if self._exception is not None:
            raise self._exception
        return self.artifact

    def __await__(self):
        return self.wait().__await__()

    def cancel(self) -> None:
        """Stop the eval (the samples still running are cancelled); ``await view`` then
        returns ``None``."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():  # cancelled before it started: _consume never ran
            self._state.update(status="cancelled", error="cancelled")
            self._flush()
            self.refresh_static()

    # -- drill-down ---------------------------------------------------------------------

    def open_sample(self, case_id: str, index: int) -> TraceViewer:
        """Show a sample's scorer components and its trace; returns the :class:`TraceViewer`.

        Only the opened sample's details travel to the front end (the table rows
        carry scores only).

        Raises:
            LookupError: no such finished sample, or its trace is not in the runtime.
            RuntimeError: the view has no runtime to read traces from.
        """
        sample = self._details.get((case_id, index))
        if sample is None:
            known = [f"{c}#{i}" for c, i in self._details]
            raise LookupError(f"no finished sample {case_id!r} #{index}; finished: {known}")
        viewer, problem = None, None
        if self.runtime is None:
            problem = RuntimeError("this EvalView has no runtime; pass runtime=rt to read traces")
        elif not sample.get("traceId"):
            problem = LookupError(f"sample {case_id!r} #{index} recorded no trace id")
        else:
            try:
                viewer = TraceViewer.from_runtime(self.runtime, sample["traceId"])
            except LookupError as exc:
                problem = exc
        self.trace_viewer = viewer
        with self.hold_sync():  # one message: the details and the trace appear together
            self.selected = _detail(case_id, sample)
            self.trace_ref = f"anywidget:{viewer.model_id}" if viewer is not None else ""
            self.error = ""
        if problem is not None:
            raise problem
        return viewer

    # -- consuming the stream -----------------------------------------------------------

    async def _consume(self, stream: Any) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for envelope in stream:
                self._fold(envelope)
                if self._timer is None:
                    self._timer = loop.call_later(self.flush_interval, self._flush)
        except asyncio.CancelledError:
            self._state["error"] = "cancelled"
            self._state["status"] = "cancelled"
            await stream.aclose()
        except Exception as exc:  # shown in the widget, re-raised by `await view`
            self._exception = exc
            self._state["error"] = f"{type(exc).__name__}: {exc}"
            self._state["status"] = "failed"
        finally:
            self._flush()
            self.refresh_static()  # saved and converted notebooks show the final table

    def _fold(self, envelope: dict[str, Any]) -> None:
        state, kind, data = self._state, envelope.get("type"), envelope.get("data") or {}
        if kind == "eval-start":
            state.update(name=data.get("name") or "eval", total=data.get("totalSamples", 0),
                         order=list(data.get("caseIds") or []), status="running")
            for case_id in state["order"]:
                state["cases"].setdefault(case_id, _case(case_id))
        elif kind == "sample-finish":
            case = state["cases"].setdefault(data["caseId"], _case(data["caseId"]))
            case["samples"].append(self._keep(data["caseId"], data["sample"]))
            state["done"] += 1
            state["passed"] += bool(data.get("passed"))
        elif kind == "case-finish":
            state["cases"][data["id"]] = self._case_result(data)
        elif kind == "eval-finish":
            from ...evals import EvalArtifact

            for case in data.get("testCases") or []:
                state["cases"][case["id"]] = self._case_result(case)
            samples = [s for c in state["cases"].values() for s in c["samples"]]
            state.update(status="finished", done=len(samples),
                         passed=sum(bool(s["passed"]) for s in samples),
                         result={"aggregateScore": data.get("aggregateScore"),
                                 "passed": data.get("passed"),
                                 "threshold": (data.get("config") or {}).get("passThreshold"),
                                 "strategy": (data.get("config") or {}).get(
                                     "aggregationStrategy")})
            self.artifact = EvalArtifact.model_validate(data)

    def _keep(self, case_id: str, sample: dict[str, Any]) -> dict[str, Any]:
        self._details[case_id, sample.get("index")] = sample
        return _sample(sample)

    def _case_result(self, case: dict[str, Any]) -> dict[str, Any]:
        samples = [self._keep(case["id"], s) for s in case.get("samples") or []]
        latencies = [s["latencyMs"] for s in samples if isinstance(s["latencyMs"], int | float)]
        return {"id": case["id"], "samples": samples, "finished": True,
                "passRate": case.get("passRate"), "meanScore": case.get("meanScore"),
                "passAtK": case.get("passAtK") or {},
                "latencyMs": sum(latencies) / len(latencies) if latencies else None}

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        state = self._state
        order = state["order"] + [c for c in state["cases"] if c not in state["order"]]
        cases = [{**state["cases"][c], "samples": list(state["cases"][c]["samples"])}
                 for c in order]
        with self.hold_sync():
            self.name = state.get("name", self.name)
            self.total = state.get("total", self.total)
            self.done, self.passed, self.cases = state["done"], state["passed"], cases
            self.result = state.get("result", {})
            self.status = state.get("status", self.status)
            self.error = state.get("error", "")

    # -- display ----------------------------------------------------------------------------

    def progress_line(self) -> str:
        """A tqdm-style line: ``name: done/total |████    | n passed, status``."""
        filled = _BAR_WIDTH * self.done // self.total if self.total else 0
        bar = "█" * filled + " " * (_BAR_WIDTH - filled)
        return (f"{self.name or 'eval'}: {self.done}/{self.total} |{bar}| "
                f"{self.passed} passed, {self.status}")

    def _repr_text(self) -> str:
        if self.status == "pending":
            return f"EvalView({self.name or 'eval'!r}, status='pending')"
        parts = [f"{self.name or 'eval'!r}", f"{self.done}/{self.total} samples",
                 f"{self.passed} passed", f"status={self.status!r}"]
        if self.result.get("aggregateScore") is not None:
            verdict = "passed" if self.result.get("passed") else "failed"
            parts.append(f"score={self.result['aggregateScore']:.2f} ({verdict})")
        return f"EvalView({', '.join(parts)})"

    def _repr_html(self) -> str:
        rows = "".join(
            f"<tr><td><code>{esc(c['id'])}</code></td>"
            f"<td>{sum(bool(s['passed']) for s in c['samples'])}/{len(c['samples'])}</td>"
            f"<td>{_num(c.get('passRate'))}</td><td>{_num(c.get('meanScore'))}</td>"
            f"<td>{esc(_pass_at_k(c.get('passAtK')))}</td></tr>"
            for c in self.cases)
        table = ("<table class='fnb-grid'><thead><tr><th>case</th><th>passed</th>"
                 "<th>pass rate</th><th>mean score</th><th>pass@k</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>")
        body = (f"<pre class='fnb-progress'>{esc(self.progress_line())}</pre>"
                + score_chart_svg(self.cases, self.result.get("threshold")) + table)
        if self.error:
            body += f"<div style='{ERROR_STYLE}'>{esc(self.error)}</div>"
        return frame(f"eval · {esc(self.name or 'eval')} · {esc(self._verdict())}", body,
                     "flowai-eval-view")

    def _verdict(self) -> str:
        if self.status != "finished":
            return self.status
        return (f"{'PASSED' if self.result.get('passed') else 'FAILED'} "
                f"{_num(self.result.get('aggregateScore'))} "
                f"(threshold {_num(self.result.get('threshold'))})")


def eval_view(runtime: Any, request: Any, *, flush_interval: float = 0.05,
              progress: bool | None = None) -> EvalView:
    """Start an eval in the background and return its live :class:`EvalView` at once.

    >>> view = eval_view(rt, request)   # shows progress, then the per-case table
    >>> artifact = await view           # the EvalArtifact

    Never blocks a notebook cell and never uses nest-asyncio. See :meth:`EvalView.start`.
    """
    return EvalView.start(runtime, request, flush_interval=flush_interval, progress=progress)


# Theme colours of the static chart, with fallbacks for pages without JupyterLab's variables.
_INK = "fill:var(--jp-ui-font-color1,#222)"
_TRACK = "fill:var(--jp-layout-color2,#eee)"
_GOOD = "fill:var(--jp-success-color1,#2da44e)"
_BAD = "fill:var(--jp-error-color1,#cf222e)"


def score_chart_svg(cases: list[dict[str, Any]], threshold: float | None = None) -> str:
    """Mean score per case as a horizontal SVG bar chart (the static form of the chart)."""
    if not cases:
        return ""
    row, label_w, bar_w = 18, 140, 240
    bars = []
    for i, case in enumerate(cases):
        score = case.get("meanScore")
        y = i * row + 2
        width = round(bar_w * score, 1) if isinstance(score, int | float) else 0
        good = isinstance(score, int | float) and score >= (threshold or 0) and score > 0
        color = _GOOD if good else _BAD
        bars.append(
            f"<text x='0' y='{y + 12}' font-size='11' style='{_INK}'>{esc(case['id'][:22])}</text>"
            f"<rect x='{label_w}' y='{y}' width='{bar_w}' height='{row - 4}' style='{_TRACK}'/>"
            f"<rect x='{label_w}' y='{y}' width='{width}' height='{row - 4}' style='{color}'/>"
            f"<text x='{label_w + bar_w + 6}' y='{y + 12}' font-size='11' style='{_INK}'>"
            f"{_num(score)}</text>")
    height = len(cases) * row + 4
    if isinstance(threshold, int | float):
        x = label_w + round(bar_w * threshold, 1)
        bars.append(f"<line x1='{x}' y1='0' x2='{x}' y2='{height}' "
                    "style='stroke:var(--jp-ui-font-color2,#555)' stroke-dasharray='3,2'/>")
    return (f"<svg class='fnb-score-chart' width='{label_w + bar_w + 40}' height='{height}' "
            f"xmlns='http://www.w3.org/2000/svg'>{''.join(bars)}</svg>")


# -- helpers ------------------------------------------------------------------------------

def _on_message(widget: EvalView, content: Any, buffers: Any) -> None:
    if isinstance(content, dict) and content.get("type") == "open-sample":
        try:
            widget.open_sample(str(content.get("caseId")), int(content.get("index", -1)))
        except Exception as exc:  # shown in the widget
            widget.error = f"{type(exc).__name__}: {exc}"


def _case(case_id: str) -> dict[str, Any]:
    return {"id": case_id, "samples": [], "finished": False, "passRate": None,
            "meanScore": None, "passAtK": {}, "latencyMs": None}


def _short(text: Any, limit: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sample(sample: dict[str, Any]) -> dict[str, Any]:
    """A table row: scores only (details are sent when the sample is opened)."""
    error = sample.get("error")
    return {"index": sample.get("index"), "score": sample.get("score"),
            "passed": bool(sample.get("passed")), "latencyMs": sample.get("latencyMs"),
            "error": bool(error), "note": _short(error or sample.get("finalText"), _NOTE_LIMIT)}


def _detail(case_id: str, sample: dict[str, Any]) -> dict[str, Any]:
    text = sample.get("finalText") or ""
    return {"caseId": case_id, "index": sample.get("index"), "score": sample.get("score"),
            "passed": bool(sample.get("passed")), "components": sample.get("components") or [],
            "trajectory": sample.get("trajectory") or [], "error": sample.get("error"),
            "finalText": text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"}


def _num(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "–"


def _pass_at_k(values: Any) -> str:
    if not values:
        return "–"
    return " ".join(f"@{k}={v:.2f}" for k, v in sorted(values.items(), key=lambda kv: int(kv[0])))
