"""EvalArtifact views: DataFrames, assert_passed, text and HTML summaries."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowai_nb.evals import (
    EvalArtifact,
    ResponseScorer,
    define_eval_config,
    define_eval_request,
    define_test_case,
    run_eval_sync,
)

from ._fake_runtime import FakeRuntime


@pytest.fixture(scope="module")
def artifact() -> EvalArtifact:
    rt = FakeRuntime({"hi": [("tool", "lookup", {}), ("text", "Hello there")],
                      "bye": [("text", "Goodbye")]})
    cases = [
        define_test_case("greets", "hi", expected_trajectory=["lookup"],
                         final_response=[ResponseScorer.contains("Hello")]),
        define_test_case("broken", "bye", final_response=[
            ResponseScorer.contains("See you", required=True), ResponseScorer.regex("Good")]),
    ]
    cfg = define_eval_config(samples_per_case=2, k_values=[1, 2])
    return run_eval_sync(rt, define_eval_request(cases, cfg, name="smoke"))


def test_to_frames_gives_cases_samples_components(artifact):
    frames = artifact.to_frames()
    cases, samples, comps = frames
    assert list(cases["case_id"]) == ["greets", "broken"]
    assert list(cases["passed"]) == [True, False]
    assert list(cases["pass@2"]) == [1.0, 0.0]
    assert len(samples) == 4 and list(samples["score"]) == [1.0, 1.0, 0.0, 0.0]
    assert samples.loc[0, "trajectory"] == ["lookup"]
    assert samples["input_tokens"].sum() == 40
    broken = comps[comps["case_id"] == "broken"]
    assert list(broken["name"].unique()) == ["response.contains", "response.regex"]
    assert list(broken["required"].unique()) == [True, False]


def test_assert_passed_reads_like_a_failure_report(artifact):
    with pytest.raises(AssertionError) as info:
        artifact.assert_passed()
    message = str(info.value)
    assert message.splitlines()[0] == ("eval 'smoke' failed: passRate 0.50 "
                                       "< pass threshold 0.70")
    assert message.splitlines()[1].split() == ["case", "sample", "score", "reason"]
    assert "broken  1       0.00   required response.contains: contains 'See you'" in message
    assert "greets" not in message


def test_assert_passed_is_silent_when_passed():
    rt = FakeRuntime({"hi": [("text", "Hello there")]})
    case = define_test_case("greets", "hi", final_response=[ResponseScorer.contains("Hello")])
    passing = run_eval_sync(rt, define_eval_request([case], define_eval_config(samples_per_case=2)))
    assert passing.passed is True
    assert passing.assert_passed() is None


def test_text_and_html_summaries_hold_no_run_specific_values(artifact):
    text = repr(artifact)
    assert text.splitlines()[0] == ("Eval smoke FAILED: passRate 0.50 (threshold 0.70), "
                                    "2/4 samples passed")
    assert "broken" in text and "FAIL" in text
    assert artifact.eval_run_id not in text and "latency" not in text
    page = artifact._repr_html_()
    assert "<table>" in page and "failing samples" in page and "See you" in page
    assert artifact.eval_run_id not in page


def test_artifact_round_trips_through_its_wire_form(artifact):
    wire = artifact.to_wire()
    assert {"evalRunId", "testCases", "aggregateScore", "passed", "summary"} <= set(wire)
    sample = wire["testCases"][0]["samples"][0]
    assert {"index", "score", "passed", "components", "trajectory", "actions", "finalText",
            "latencyMs", "usage", "traceId", "error"} <= set(sample)
    assert EvalArtifact.model_validate(wire) == artifact


def test_importing_evals_does_not_import_pandas():
    code = "import sys, flowai_nb.evals; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
