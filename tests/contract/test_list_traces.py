"""Reference §list_traces (lines 62-71)."""

from __future__ import annotations

import flowai_nb as fa
from flowai_nb.evals import define_eval_request, define_test_case

from ._reference import assert_function_matches, cites
from .conftest import drain, run, runtime


@cites(63, "list_traces(self, /, eval_run_id=None, test_case_id=None, thread_id=None)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.list_traces, 63)


@cites(70, "thread_id: Only traces recorded for this thread.")
def test_filters_by_thread() -> None:
    rt = runtime({"router": [{"text": "a"}, {"text": "b"}]})
    run(drain(rt.query("x", "t1")))
    run(drain(rt.query("y", "t2")))
    assert len(rt.list_traces()) == 2
    assert [t["threadId"] for t in rt.list_traces(thread_id="t2")] == ["t2"]
    assert rt.list_traces(thread_id="t3") == []


@cites(71, "Returns: A list of trace dicts matching every supplied filter.")
def test_eval_run_and_test_case_filters_combine() -> None:
    rt = runtime({"router": [{"text": "hello"}] * 4})
    cases = [define_test_case(name, "Say hello",
                              final_response=[fa.ResponseScorer.contains("hello")])
             for name in ("one", "two")]
    config = fa.define_eval_config(samples_per_case=2)
    run(rt.run_eval(define_eval_request(cases, config, eval_run_id="ev1")))
    run(drain(rt.query("outside the eval", "t9")))
    in_eval = rt.list_traces(eval_run_id="ev1")
    assert len(in_eval) == 4 and all(isinstance(t, dict) for t in in_eval)
    only_two = rt.list_traces(eval_run_id="ev1", test_case_id="two")
    assert len(only_two) == 2 and {t["testCaseId"] for t in only_two} == {"two"}
    assert rt.list_traces(eval_run_id="ev1", test_case_id="two", thread_id="t9") == []
    assert rt.list_traces(eval_run_id="other") == []
