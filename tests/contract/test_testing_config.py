"""Reference §TestingConfig (lines 333-340)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import flowai_nb as fa

from ._reference import cites
from .conftest import drain, run, spec


@cites(340, "Keys: mock_response: Text emitted by the mock interpreter for every model turn.")
def test_mock_response_is_required_and_emitted_every_turn() -> None:
    with pytest.raises(ValidationError, match="mock_response|mockResponse"):
        fa.TestingConfig()
    rt = fa.create_runtime(spec(), testing=fa.TestingConfig(mock_response="always this"))
    first = run(drain(rt.query("a", "t1")))
    second = run(drain(rt.run_specialist("analyst", "b")))
    assert first[-1]["text"] == second[-1]["text"] == "always this"


@cites(339, "interpreter.")
def test_testing_is_exclusive_with_a_non_default_interpreter() -> None:
    with pytest.raises(ValueError, match="testing"):
        fa.create_runtime(spec(), testing={"mock_response": "x"}, interpreter="anthropic")
