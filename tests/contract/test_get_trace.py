"""Reference §get_trace (lines 54-61)."""

from __future__ import annotations

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import drain, run, runtime


@cites(55, "get_trace(self, /, trace_id)")
def test_signature() -> None:
    assert_function_matches(fa.Runtime.get_trace, 55)


@cites(61, "Returns: The trace dict, or None when no trace has that id.")
def test_returns_the_trace_of_a_run_or_none() -> None:
    rt = runtime({"router": [{"text": "hello"}]})
    events = run(drain(rt.query("hi", "t1")))
    trace_id = events[-1]["traceId"]
    trace = rt.get_trace(trace_id)
    assert isinstance(trace, dict) and trace["traceId"] == trace_id
    assert trace["threadId"] == "t1"
    assert rt.get_trace("no-such-trace") is None
