"""A closed runtime refuses new work with a clear error instead of failing quietly."""

from __future__ import annotations

import json

import pytest

from flowai_nb.evals import define_eval_request, define_test_case, run_eval_sync

from .conftest import build_runtime, collect, run

CLOSED = "was closed; its stores are gone: create a new one"


def _sqlite_runtime(tmp_path):
    return build_runtime(spec_kw={"storage": {"kv": {"kind": "sqlite", "config": {"path": str(
        tmp_path / "kv.db")}}}})


def test_every_way_to_start_work_raises_after_close(tmp_path) -> None:
    rt = _sqlite_runtime(tmp_path)
    rt.close()
    script = json.dumps({"script": [{"text": "hi"}]})
    with pytest.raises(RuntimeError, match=CLOSED):
        rt.query(script, "t1")
    with pytest.raises(RuntimeError, match=CLOSED):
        rt.run_specialist("analyst", script)
    with pytest.raises(RuntimeError, match=CLOSED):
        rt.query(None, "t1", resume="resume-run-x")
    with pytest.raises(RuntimeError, match=CLOSED):
        rt.stream_eval(define_eval_request([define_test_case("c", script)]))


def test_an_eval_on_a_closed_runtime_raises_instead_of_scoring_zero(tmp_path) -> None:
    rt = _sqlite_runtime(tmp_path)
    script = json.dumps({"script": [{"text": "hi"}]})
    assert run(collect(rt.query(script, "t1")))[-1]["status"] == "completed"
    rt.close()
    with pytest.raises(RuntimeError, match=CLOSED):
        run_eval_sync(rt, define_eval_request([define_test_case("c", script)]))
