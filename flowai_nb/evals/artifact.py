"""The eval artifact: per-sample results, per-case metrics, the aggregate, and views of them."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import Field

from flowai_nb.authoring._base import SpecModel

from .models import EvalConfig
from .scorers import ComponentScore

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["CaseResult", "EvalArtifact", "EvalFrames", "HarnessEvalEventEnvelope", "SampleResult"]


class HarnessEvalEventEnvelope(SpecModel):
    """One progress envelope of ``runtime.stream_eval``.

    ``{"type", "evalRunId", "seq", "data"}``: ``seq`` counts from 0 within the
    eval run; ``data`` is the artifact dict for ``eval-finish``, the case
    result for ``case-finish``, a sample summary otherwise. Validate a raw
    envelope with ``HarnessEvalEventEnvelope.model_validate(envelope)``.
    """

    type: Literal["eval-start", "sample-start", "sample-finish", "case-finish", "eval-finish"]
    eval_run_id: str = Field(min_length=1)
    seq: int = Field(ge=0)
    data: dict[str, Any]


class SampleResult(SpecModel):
    """One sample of one test case.

    Attributes:
        index: 0-based sample number within its case.
        score: the sample score in [0, 1] (0 on error or timeout).
        passed: ``score >= pass_threshold`` and no error.
        components: the per-scorer scores.
        trajectory: tool names called (or agents started), in order.
        actions: plan actions recorded, ``{kind, payload}`` (see the runner).
        final_text: the run's final text.
        latency_ms: wall time of the sample, judge turns included.
        usage: ``{inputTokens, outputTokens, costUsd}`` when known.
        trace_id: the run's trace (``runtime.get_trace``).
        thread_id: the fresh thread the sample ran on.
        error: ``"timeout"``, the run's error message, or ``None``.
    """

    index: int
    score: float
    passed: bool
    components: tuple[ComponentScore, ...] = ()
    trajectory: tuple[str, ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    final_text: str = ""
    latency_ms: float = 0.0
    usage: dict[str, Any] = Field(default_factory=dict)
    trace_id: str | None = None
    thread_id: str | None = None
    error: str | None = None

    def reason(self) -> str:
        """Why the sample did not score 1, in one line ("" when it did)."""
        if self.error:
            return self.error
        gates = [c for c in self.components if c.required and c.score < 1]
        weak = gates or [c for c in self.components if c.score < 1]
        return "; ".join(f"{'required ' if c.required else ''}{c.name}: {c.details}"
                         for c in weak)


class CaseResult(SpecModel):
    """All samples of one test case and their metrics.

    ``pass_rate`` = passed samples / samples; ``mean_score`` = mean sample score;
    ``pass_at_k`` = ``{k: 1 - C(n-c, k) / C(n, k)}``; ``passed`` = this case alone, under
    the eval's aggregation strategy, reaches the pass threshold.
    """

    id: str
    tags: tuple[str, ...] = ()
    samples: tuple[SampleResult, ...] = ()
    pass_rate: float = 0.0
    mean_score: float = 0.0
    pass_at_k: dict[int, float] = Field(default_factory=dict)
    passed: bool = False


class EvalFrames(NamedTuple):
    """The artifact as three pandas DataFrames."""

    cases: pd.DataFrame
    samples: pd.DataFrame
    components: pd.DataFrame


class EvalArtifact(SpecModel):
    """The result of an eval run (the dict from ``run_eval`` validates into this).

    Attributes:
        eval_run_id: the run's id (``runtime.list_traces(eval_run_id=...)``).
        name: the request's name.
        tenant: the runtime tenant's key.
        config: the config the eval ran with.
        test_cases: one :class:`CaseResult` per case run (tags filter applied).
        aggregate_score: per ``config.aggregation_strategy``.
        passed: ``aggregate_score >= config.pass_threshold``.
        summary: counts (cases, samples, passedSamples, failedSamples, errors, timeouts),
            latencyMs (mean, p50, max), usage (inputTokens, outputTokens) and costUsd.
    """

    eval_run_id: str
    name: str | None = None
    tenant: str | None = None
    config: EvalConfig = Field(default_factory=EvalConfig)
    test_cases: tuple[CaseResult, ...] = ()
    aggregate_score: float = 0.0
    passed: bool = False
    summary: dict[str, Any] = Field(default_factory=dict)

    # --- views ------------------------------------------------------------------------

    def failures(self) -> list[tuple[str, SampleResult]]:
        """``(case id, sample)`` for every sample that did not pass."""
        return [(case.id, s) for case in self.test_cases for s in case.samples if not s.passed]

    def assert_passed(self) -> None:
        """Raise AssertionError with a table of failing samples unless the eval passed.

        Use it as the last line of a regression-eval notebook cell or a pytest test.
        """
        if self.passed:
            return
        cfg = self.config
        label = f"eval {self.name!r}" if self.name else "eval"
        head = (f"{label} failed: {cfg.aggregation_strategy} {self.aggregate_score:.2f} "
                f"< pass threshold {cfg.pass_threshold:.2f}")
        raise AssertionError(head + "\n" + _table(
            ["case", "sample", "score", "reason"],
            [[cid, str(s.index), f"{s.score:.2f}", s.reason()] for cid, s in self.failures()]))

    def to_frames(self) -> EvalFrames:
        """``(cases, samples, components)`` DataFrames (pandas is imported here, lazily).

        cases: case_id, tags, samples, pass_rate, mean_score, passed, one ``pass@k``
        column per k. samples: case_id, index, score, passed, error, final_text,
        trajectory, actions, latency_ms, input_tokens, output_tokens, cost_usd, trace_id,
        thread_id. components: case_id, index, name, score, weight, required, details.
        """
        import pandas as pd

        cases, samples, comps = [], [], []
        for case in self.test_cases:
            row: dict[str, Any] = {"case_id": case.id, "tags": list(case.tags),
                                   "samples": len(case.samples), "pass_rate": case.pass_rate,
                                   "mean_score": case.mean_score, "passed": case.passed}
            row.update({f"pass@{k}": v for k, v in sorted(case.pass_at_k.items())})
            cases.append(row)
            for s in case.samples:
                samples.append({
                    "case_id": case.id, "index": s.index, "score": s.score,
                    "passed": s.passed, "error": s.error, "final_text": s.final_text,
                    "trajectory": list(s.trajectory), "actions": [dict(a) for a in s.actions],
                    "latency_ms": s.latency_ms, "input_tokens": s.usage.get("inputTokens"),
                    "output_tokens": s.usage.get("outputTokens"),
                    "cost_usd": s.usage.get("costUsd"), "trace_id": s.trace_id,
                    "thread_id": s.thread_id})
                comps.extend({"case_id": case.id, "index": s.index, "name": c.name,
                              "score": c.score, "weight": c.weight, "required": c.required,
                              "details": c.details} for c in s.components)
        return EvalFrames(
            pd.DataFrame(cases, columns=None if cases else ["case_id", "tags", "samples",
                                                             "pass_rate", "mean_score",
                                                             "passed"]),
            pd.DataFrame(samples, columns=None if samples else ["case_id", "index", "score",
                                                                 "passed", "error"]),
            pd.DataFrame(comps, columns=None if comps else ["case_id", "index", "name",
                                                             "score", "weight", "required",
                                                             "details"]),
        )

    def _case_rows(self) -> list[list[str]]:
        ks = self.config.ks
        return [[c.id, f"{sum(s.passed for s in c.samples)}/{len(c.samples)}",
                 f"{c.mean_score:.2f}", *(f"{c.pass_at_k.get(k, 0):.2f}" for k in ks),
                 "pass" if c.passed else "FAIL"] for c in self.test_cases]

    def _headers(self) -> list[str]:
        return ["case", "passed", "mean", *(f"pass@{k}" for k in self.config.ks), "result"]

    def _title(self) -> str:
        s = self.summary
        verdict = "PASSED" if self.passed else "FAILED"
        return (f"Eval {self.name + ' ' if self.name else ''}{verdict}: "
                f"{self.config.aggregation_strategy} {self.aggregate_score:.2f} "
                f"(threshold {self.config.pass_threshold:.2f}), "
                f"{s.get('passedSamples', 0)}/{s.get('samples', 0)} samples passed")

    def __repr__(self) -> str:
        """A text summary with no run-specific values (ids, timings), so notebook
        outputs stay reproducible."""
        return self._title() + "\n" + _table(self._headers(), self._case_rows())

    __str__ = __repr__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._headers())
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self._case_rows())
        fails = self.failures()
        fail_html = "" if not fails else (
            "<details><summary>failing samples</summary><ul>") + "".join(
            f"<li><code>{html.escape(cid)}</code> #{s.index}: {html.escape(s.reason())}</li>"
            for cid, s in fails) + "</ul></details>"
        color = ("var(--jp-success-color1,#1a7f37)" if self.passed
                 else "var(--jp-error-color1,#cf222e)")
        return (f"<div class='flowai-eval'><p style='color:{color}'><b>"
                f"{html.escape(self._title())}</b></p><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>{fail_html}</div>")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    clipped = [[cell if len(cell) <= 100 else cell[:99] + "…" for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in clipped)) if clipped else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in clipped]
    return "\n".join(lines)
