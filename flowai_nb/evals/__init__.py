"""Evals: score agents on test cases, offline or against a runtime.

Declare test cases and a config, then run them::

    from flowai_nb.evals import (ResponseScorer, define_eval_request, define_test_case,
                                 run_eval_sync)

    case = define_test_case("greets", "Say hello",
                            final_response=[ResponseScorer.contains("hello")])
    artifact = run_eval_sync(runtime, define_eval_request([case]))
    artifact.assert_passed()

Or score a recorded output with no runtime: ``score_sample(case, RawSampleOutput(...))``.
Importing this package is light: pandas is only imported by ``EvalArtifact.to_frames``.
"""

from __future__ import annotations

from .artifact import CaseResult, EvalArtifact, EvalFrames, HarnessEvalEventEnvelope, SampleResult
from .models import (
    SCORER_PRESETS,
    ApprovalDecision,
    EvalConfig,
    EvalRequest,
    EvalTestCase,
    ExpectedAction,
    ExpectedActions,
    ResponseScorer,
    define_eval_config,
    define_eval_request,
    define_expected_action,
    define_expected_actions,
    define_test_case,
    parse_eval_request,
)
from .passk import aggregate_cases, pass_at_k
from .runner import EvalStream, run_eval, run_eval_sync, stream_eval
from .scorers import (
    ComponentScore,
    JudgeVerdict,
    RawSampleOutput,
    ScoredSample,
    score_actions,
    score_response,
    score_sample,
    score_trajectory,
)

__all__ = [
    "SCORER_PRESETS",
    "ApprovalDecision",
    "CaseResult",
    "ComponentScore",
    "EvalArtifact",
    "EvalConfig",
    "EvalFrames",
    "EvalRequest",
    "EvalStream",
    "EvalTestCase",
    "ExpectedAction",
    "ExpectedActions",
    "HarnessEvalEventEnvelope",
    "JudgeVerdict",
    "RawSampleOutput",
    "ResponseScorer",
    "SampleResult",
    "ScoredSample",
    "aggregate_cases",
    "define_eval_config",
    "define_eval_request",
    "define_expected_action",
    "define_expected_actions",
    "define_test_case",
    "parse_eval_request",
    "pass_at_k",
    "run_eval",
    "run_eval_sync",
    "score_actions",
    "score_response",
    "score_sample",
    "score_trajectory",
    "stream_eval",
]
