"""Reference §stream_eval (lines 42-53)."""

from __future__ import annotations

import pytest

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import drain, eval_request, run, runtime


@cites(43, "stream_eval(self, /, eval_request)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.stream_eval, 43)


@cites(51, "An async-iterable stream yielding eval event envelope dicts")
def test_envelopes_validate_with_harness_eval_event_envelope() -> None:
    rt = runtime({"router": [{"text": "hello"}]})
    envelopes = run(drain(rt.stream_eval(eval_request())))
    assert [e["type"] for e in envelopes][0] == "eval-start"
    assert envelopes[-1]["type"] == "eval-finish"
    for envelope in envelopes:
        model = fa.HarnessEvalEventEnvelope.model_validate(envelope)
        assert model.eval_run_id == envelopes[0]["evalRunId"]
    assert [e["seq"] for e in envelopes] == list(range(len(envelopes)))
    fa.EvalArtifact.model_validate(envelopes[-1]["data"])


@cites(52, "(validate with HarnessEvalEventEnvelope).")
def test_a_malformed_envelope_does_not_validate() -> None:
    with pytest.raises(ValueError):
        fa.HarnessEvalEventEnvelope.model_validate({"type": "eval-start", "seq": -1, "data": {}})


@cites(53, "Raises: ValueError: If the request cannot be parsed.")
@pytest.mark.parametrize("bad", ["{not json", 3.5, {"testCases": 7}])
def test_an_unparseable_request_raises_at_the_call(bad) -> None:
    rt = runtime()
    with pytest.raises(ValueError):
        rt.stream_eval(bad)  # no iteration needed
