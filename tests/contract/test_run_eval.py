"""Reference §run_eval (lines 30-41)."""

from __future__ import annotations

import json

import pytest

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import eval_request, run, runtime


@cites(31, "run_eval(self, /, eval_request)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.run_eval, 31)


@cites(37, "eval_request: EvalRequest model, mapping, or JSON string.")
@pytest.mark.parametrize("form", ["model", "mapping", "json"])
def test_accepts_a_model_a_mapping_or_a_json_string(form: str) -> None:
    rt = runtime({"router": [{"text": "hello there"}]})
    req = eval_request()
    given = {"model": req, "mapping": req.model_dump(by_alias=True),
             "json": json.dumps(req.model_dump(mode="json", by_alias=True))}[form]
    artifact = run(rt.run_eval(given))
    assert fa.EvalArtifact.model_validate(artifact).passed is True


@cites(39, "Awaitable resolving to the eval artifact dict (validate with")
def test_returns_an_awaitable_of_the_artifact_dict() -> None:
    rt = runtime({"router": [{"text": "hello"}]})
    pending = rt.run_eval(eval_request())
    assert hasattr(pending, "__await__")
    artifact = run(pending)
    assert isinstance(artifact, dict)
    fa.EvalArtifact.model_validate(artifact)


@cites(41, "ValueError: If the request cannot be parsed.")
@pytest.mark.parametrize("bad", ["{not json", 42, {"testCases": "nope"}])
def test_unparseable_request_is_a_value_error(bad) -> None:
    rt = runtime()
    with pytest.raises(ValueError):
        run(rt.run_eval(bad))


@cites(41, "RuntimeError: If the eval run fails.")
def test_a_failing_eval_run_is_a_runtime_error(monkeypatch) -> None:
    rt = runtime({"router": [{"text": "hello"}]})

    def broken(*args, **kwargs):
        raise OSError("the runtime lost its store")

    monkeypatch.setattr(rt, "query", broken)
    with pytest.raises(RuntimeError, match="lost its store"):
        run(rt.run_eval(eval_request()))
