"""The eval view on real evals of a scripted runtime: progress, results, drill-down."""

from __future__ import annotations

import asyncio
import io

import pytest

import flowai_nb as fa
from flowai_nb.evals import (
    EvalArtifact,
    EvalRequest,
    ResponseScorer,
    define_eval_config,
    define_eval_request,
    define_test_case,
)
from flowai_nb.jupyter._assets import asset_path
from flowai_nb.jupyter.widgets.eval_view import EvalView, eval_view

from .fakes import front_end_says
from .scenario import build_runtime

TRAJECTORY = ["call_agent", "store_plan", "call_agent", "execute_plan"]


def _request(samples: int = 2, **kwargs) -> EvalRequest:
    good = define_test_case("refund", "refund order 42", expected_trajectory=TRAJECTORY,
                            final_response=[ResponseScorer.contains("done")])
    bad = define_test_case("refuse", "refund order 42", approvals=["reject"],
                           final_response=[ResponseScorer.exact("No refund.", required=True)])
    config = define_eval_config(samples_per_case=samples, k_values=[1, samples])
    return define_eval_request([good, bad], config, name="refunds", **kwargs)


def _run(request, **kwargs) -> EvalView:
    runtime = build_runtime([])

    async def main() -> EvalView:
        view = eval_view(runtime, request, **kwargs)
        assert repr(view) == "EvalView('refunds', status='pending')"  # returned at once
        artifact = await view
        assert isinstance(artifact, EvalArtifact) and artifact is view.artifact
        return view

    return asyncio.run(main())


def test_finished_view_shows_per_case_results() -> None:
    view = _run(_request())
    assert (view.status, view.total, view.done, view.passed) == ("finished", 4, 4, 2)
    refund, refuse = view.cases
    assert (refund["id"], refund["passRate"], refund["meanScore"]) == ("refund", 1.0, 1.0)
    assert refund["passAtK"] == {"1": 1.0, "2": 1.0}
    assert (refuse["passRate"], refuse["meanScore"]) == (0.0, 0.0)
    assert [s["index"] for s in refuse["samples"]] == [0, 1]
    assert all(s["latencyMs"] > 0 for c in view.cases for s in c["samples"])
    assert refund["samples"][0]["note"] == "Refund done."
    assert "components" not in refuse["samples"][0]  # details travel only when opened
    assert view.result["aggregateScore"] == view.artifact.aggregate_score == 0.5
    assert view.result["passed"] is False and view.result["threshold"] == 0.7


def test_text_and_html_forms_are_deterministic() -> None:
    first, second = _run(_request()), _run(_request())
    assert first.artifact.eval_run_id != second.artifact.eval_run_id
    assert repr(first) == repr(second) == (
        "EvalView('refunds', 4/4 samples, 2 passed, status='finished', score=0.50 (failed))")
    html = first._repr_html()
    assert html == second._repr_html()
    assert "FAILED 0.50 (threshold 0.70)" in html and "<svg class='fnb-score-chart'" in html
    assert "<td><code>refund</code></td><td>2/2</td><td>1.00</td>" in html
    assert first.artifact.eval_run_id not in html and " ms" not in html
    rebuilt = EvalView.from_artifact(first.artifact)
    assert (repr(rebuilt), rebuilt._repr_html()) == (repr(first), html)


def test_trait_updates_are_coalesced_into_few_messages() -> None:
    request = _request(samples=5)  # 1 + 10 sample-start + 10 sample-finish + 2 + 1 envelopes
    slow = _run(request, flush_interval=60)  # nothing flushes before the run ends
    assert len(slow.comm.updates()) == 1
    assert slow.done == 10 and len(slow.cases[0]["samples"]) == 5
    fast = _run(request, flush_interval=0.001)
    assert 1 <= len(fast.comm.updates()) < 24

    def scores(view: EvalView) -> list:
        return [(c["id"], c["passRate"], [s["score"] for s in c["samples"]]) for c in view.cases]

    assert scores(fast) == scores(slow) and fast.result == slow.result


def test_clicking_a_sample_opens_its_trace() -> None:
    view = _run(_request())
    sample = view.artifact.test_cases[1].samples[1]
    front_end_says(view, {"type": "open-sample", "caseId": "refuse", "index": 1})
    assert view.error == ""
    selected = view.selected
    assert (selected["caseId"], selected["index"], selected["passed"]) == ("refuse", 1, False)
    assert selected["components"][0]["name"] == "response.exact"
    assert selected["trajectory"] == TRAJECTORY and selected["finalText"] == "Refund done."
    viewer = view.trace_viewer
    assert viewer.trace["traceId"] == sample.trace_id
    assert view.trace_ref == f"anywidget:{viewer.model_id}"
    names = {s["name"] for s in viewer.trace["spans"]}
    assert {"coordinator", "planner", "executor", "execute_plan"} <= names
    assert view.comm.updates()[-1].keys() >= {"selected", "trace_ref"}

    front_end_says(view, {"type": "open-sample", "caseId": "refuse", "index": 7})
    assert "refuse" in view.error and "refund#0" in view.error

    offline = EvalView.from_artifact(view.artifact)  # no runtime: components, no trace
    front_end_says(offline, {"type": "open-sample", "caseId": "refund", "index": 0})
    assert offline.selected["components"][0]["name"] == "trajectory"
    assert "runtime=rt" in offline.error and offline.trace_ref == ""


def test_without_a_running_loop_it_runs_to_the_end_with_a_progress_line() -> None:
    out = io.StringIO()
    view = eval_view(build_runtime([]), _request(), progress=out)
    assert view.status == "finished" and view.artifact.aggregate_score == 0.5
    assert "refunds: 4/4 |" in out.getvalue()
    assert view.progress_line() == f"refunds: 4/4 |{'█' * 24}| 2 passed, finished"


def test_a_failing_eval_is_shown_and_raised() -> None:
    request = _request(tenant=fa.define_tenant("other-shop", "1"))
    with pytest.raises(ValueError, match="other-shop"):
        _run(request)

    async def main() -> EvalView:
        view = eval_view(build_runtime([]), request)
        with pytest.raises(ValueError):
            await view.wait()
        return view

    view = asyncio.run(main())
    assert view.status == "failed" and "other-shop" in view.error
    assert "failed" in repr(view) and "other-shop" in view._repr_html()
    with pytest.raises(ValueError, match="validate|field|request"):
        eval_view(build_runtime([]), {"testCases": "nope"})


@pytest.mark.parametrize("after_envelopes", [0, 3])
def test_cancel_stops_the_eval(after_envelopes: int) -> None:
    async def main() -> tuple[EvalView, object]:
        view = eval_view(build_runtime([]), _request(samples=5), flush_interval=0)
        while view.done < after_envelopes:
            await asyncio.sleep(0)
        view.cancel()
        return view, await view

    view, artifact = asyncio.run(main())
    assert artifact is None and view.artifact is None
    assert view.status == "cancelled" and view.done < 10
    assert "cancelled" in repr(view)


def test_front_end_is_packaged() -> None:
    assert "host.getWidget" in EvalView._esm and "export default { render }" in EvalView._esm
    assert asset_path("eval_view.css").read_text() in EvalView._css
