"""SPEC §7 plans, §8 references, §12 traces."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import flowai_nb as fa
from flowai_nb._clock import ManualClock, use_clock
from flowai_nb.engine import ReferenceExpiredError, ReferenceNotFoundError

from .conftest import Dispatcher, build_runtime, build_spec, collect, of, run


class Slice(BaseModel):
    store: int
    rows: list[dict]


def ref_runtime(tenant: str = "acme", storage=None, glimpse_calls=None, ttl_ms=None):
    def summarise(value: Slice):
        if glimpse_calls is not None:
            glimpse_calls.append(value)
        return {"store": value.store, "rows": len(value.rows)}

    spec = build_spec(tenant=tenant, storage=storage,
                      references=[fa.define_reference("slice", Slice, ttl_ms=ttl_ms,
                                                      glimpse=summarise)])
    return fa.create_runtime(spec, interpreter="scripted")


VALUE = {"store": 7, "rows": [{"sku": "A", "units": 3}]}


def test_reference_envelope_and_payload() -> None:
    calls: list = []
    rt = ref_runtime(glimpse_calls=calls)
    envelope = run(rt.create_reference("slice", VALUE))
    assert set(envelope) == {"kind", "id", "glimpse", "createdAt", "expiresAt"}
    assert envelope["kind"] == "slice" and envelope["glimpse"] == {"store": 7, "rows": 1}
    assert isinstance(calls[0], Slice)  # the callback gets the validated model
    assert run(rt.resolve_reference(envelope)) == VALUE
    assert run(rt.resolve_reference(f"slice:{envelope['id']}")) == VALUE
    assert run(rt.reference_glimpse(envelope)) == {"store": 7, "rows": 1}
    assert len(calls) == 1  # glimpse ran once, not on resolve or glimpse
    # the same without awaiting (widgets, callbacks): runtime.references
    assert rt.references.resolve(envelope) == VALUE
    assert rt.references.glimpse(envelope) == {"store": 7, "rows": 1}
    assert rt.references.create("slice", VALUE)["id"] == envelope["id"]


def test_ids_are_content_addressed_per_tenant() -> None:
    rt = ref_runtime()
    a = run(rt.create_reference("slice", VALUE))
    b = run(rt.create_reference("slice", dict(reversed(list(VALUE.items())))))
    c = run(rt.create_reference("slice", {**VALUE, "store": 8}))
    other = run(ref_runtime(tenant="globex").create_reference("slice", VALUE))
    assert a["id"] == b["id"] != c["id"]
    assert other["id"] != a["id"]


def test_values_are_validated_before_storing() -> None:
    rt = ref_runtime()
    with pytest.raises(ValueError, match="store"):
        run(rt.create_reference("slice", {"store": "seven", "rows": []}))
    with pytest.raises(ValueError, match="'nope'"):
        run(rt.create_reference("nope", VALUE))


def test_expired_reference_raises_naming_the_id() -> None:
    clock = ManualClock()
    with use_clock(clock):
        rt = ref_runtime(ttl_ms=30)
        envelope = run(rt.create_reference("slice", VALUE))
        assert envelope["expiresAt"] == envelope["createdAt"] + 30 == clock() + 30
        clock.advance(29)
        run(rt.resolve_reference(envelope))  # still alive one ms before expiry
        clock.advance(1)
        with pytest.raises(ReferenceExpiredError, match=envelope["id"]):
            run(rt.resolve_reference(envelope))
        with pytest.raises(LookupError):
            run(rt.reference_glimpse(envelope))


def test_unknown_reference_is_a_key_error_naming_the_id() -> None:
    rt = ref_runtime()
    with pytest.raises(ReferenceNotFoundError, match="slice:deadbeef"):
        run(rt.resolve_reference({"kind": "slice", "id": "deadbeef"}))
    with pytest.raises(KeyError):
        run(rt.resolve_reference("slice:deadbeef"))


def test_tenants_are_isolated_in_a_shared_store(tmp_path) -> None:
    storage = {"kv": {"kind": "sqlite", "path": str(tmp_path / "shared.db")}}
    acme = ref_runtime("acme", storage)
    globex = ref_runtime("globex", storage)
    envelope = run(acme.create_reference("slice", VALUE))
    assert run(acme.resolve_reference(envelope)) == VALUE
    with pytest.raises(ReferenceNotFoundError):
        run(globex.resolve_reference(envelope))


def test_tools_use_ctx_references_and_large_results_become_references() -> None:
    @fa.define_tool("make_slice", "Build a slice", {})
    def make_slice(args, ctx):
        return ctx.references.create("slice", VALUE)

    @fa.define_tool("big", "A big result", {})
    def big(args, ctx):
        return [{"row": i, "text": "x" * 50} for i in range(2000)]

    @fa.define_tool("marked", "A glimpse-marked result", {})
    def marked(args, ctx):
        return list(range(10)), fa.glimpse({"count": 10})

    spec = build_spec({"analyst": [{"tool": "make_slice", "args": {}}, {"tool": "big", "args": {}},
                                   {"tool": "marked", "args": {}}, {"text": "ok"}]},
                      specialist_tools=(make_slice, big, marked),
                      references=[fa.define_reference("slice", Slice)])
    rt = fa.create_runtime(spec, interpreter="scripted")
    results = of(run(collect(rt.run_specialist("analyst", "go"))), "tool-result")
    made, large, mark = (r for r in results)
    assert made["result"]["kind"] == "slice" and made["glimpse"] == made["result"]["glimpse"]
    assert large["result"]["kind"] == "tool_result"
    assert large["glimpse"] == {"type": "list", "length": 2000,
                                "head": [{"row": i, "text": "x" * 50} for i in range(3)]}
    assert len(run(rt.resolve_reference(large["result"]))) == 2000
    assert mark["glimpse"] == {"count": 10}
    assert run(rt.resolve_reference(mark["result"])) == list(range(10))


def test_references_toolkit_and_resolved_refs_for_the_dispatcher() -> None:
    rt = ref_runtime()
    envelope = run(rt.create_reference("slice", VALUE))
    scripts = {"analyst": [{"tool": "get_glimpse", "args": {"reference": envelope}},
                           {"tool": "resolve_reference", "args": {
                               "reference": f"slice:{envelope['id']}"}}, {"text": "ok"}]}
    spec = build_spec(scripts, references=[fa.define_reference("slice", Slice)])
    rt2 = fa.create_runtime(spec, interpreter="scripted")
    run(rt2.create_reference("slice", VALUE))
    results = of(run(collect(rt2.run_specialist("analyst", "go"))), "tool-result")
    assert [r.get("result") for r in results][1] == VALUE

    body = {"actions": [{"kind": "restock", "sku": "A", "units": 1, "references": [envelope]}]}
    scripts = {"router": [{"tool": "call_agent", "args": {"agent": "planner", "prompt": "p"}},
                          {"tool": "call_agent", "args": {"agent": "executor", "prompt": "e"}},
                          {"text": "ok"}],
               "planner": [{"tool": "store_plan", "args": {"plan_id": "r", "body": body}},
                           {"text": "ok"}],
               "executor": [{"tool": "execute_plan", "args": {"plan_id": "r"}}, {"text": "ok"}]}
    dispatcher = Dispatcher()
    spec = build_spec(scripts, references=[fa.define_reference("slice", Slice)])
    rt3 = fa.create_runtime(spec, interpreter="scripted", action_dispatcher=dispatcher)
    run(rt3.create_reference("slice", VALUE))
    run(collect(rt3.query("x", "t", approvals="auto_approve")))
    _, ctx = dispatcher.calls[0]
    assert ctx["resolved_refs"] == {"slice": {envelope["id"]: VALUE}}


def test_plan_versions_and_history() -> None:
    body2 = {"actions": [{"kind": "retire", "sku": "Q"}]}
    scripts = {"planner": [
        {"tool": "store_plan", "args": {"plan_id": "p", "body": {"actions": []}}},
        {"tool": "store_plan", "args": {"plan_id": "p", "body": body2}},
        {"tool": "store_plan", "args": {"body": {"actions": [{"kind": "bogus"}]}}},
        {"text": "ok"}]}
    rt2 = fa.create_runtime(build_spec(scripts), interpreter="scripted")
    planner_stream = rt2.run_agent("planner", "plan", "t")
    events = run(collect(planner_stream))
    stored = of(events, "plan-stored")
    assert [e["planId"] for e in stored] == ["p@v1", "p@v2"]
    assert "'bogus'" in of(events, "tool-result")[-1]["error"]
    assert rt2.get_plan("p@v1")["actions"] == []
    latest = rt2.get_plan("p")
    assert latest["id"] == "p@v2" and latest["version"] == 2
    assert latest["actions"] == [{"kind": "retire", "payload": {"sku": "Q"}, "references": []}]
    assert [h["status"] for h in latest["history"]] == ["draft"]
    assert {"id", "plan", "status", "body", "actions", "history", "createdAt",
            "updatedAt"} <= set(latest)
    assert [p["id"] for p in rt2.list_plans(thread_id="t")] == ["p@v1", "p@v2"]


def test_traces_are_recorded_with_spans_and_filters() -> None:
    rt = build_runtime(dispatcher=Dispatcher())
    first = run(collect(rt.query("x", "t1", approvals="auto_approve")))
    run(collect(rt.run_specialist("analyst", json_script(), thread_id="t2")))
    trace = rt.get_trace(first[-1]["traceId"])
    assert trace["events"] == first and trace["status"] == "completed"
    assert trace["runId"] == first[0]["runId"] and trace["threadId"] == "t1"
    spans = {s["spanId"]: s for s in trace["spans"]}
    router = next(s for s in spans.values() if s["name"] == "router")
    planner = next(s for s in spans.values() if s["name"] == "planner")
    store = next(s for s in spans.values() if s["name"] == "store_plan")
    assert router["parentId"] is None
    assert spans[planner["parentId"]]["name"] == "call_agent"
    assert spans[planner["parentId"]]["parentId"] == router["spanId"]
    assert store["parentId"] == planner["spanId"]
    assert all(s["end"] >= s["start"] for s in spans.values())
    assert [t["threadId"] for t in rt.list_traces()] == ["t1", "t2"]
    assert [t["threadId"] for t in rt.list_traces(thread_id="t2")] == ["t2"]
    assert rt.list_traces(eval_run_id="nope") == []
    assert rt.get_trace("trace-missing") is None
    frame = rt.traces_frame()
    assert list(frame["threadId"]) == ["t1", "t2"]


def test_trace_tags_for_evals() -> None:
    rt = build_runtime({})
    stream = rt.query(json_script(), "t",
                      options=fa.RunOptions(eval_run_id="e1", test_case_id="c1", tags={"u": "a"}))
    run(collect(stream))
    assert len(rt.list_traces(eval_run_id="e1", test_case_id="c1")) == 1
    assert rt.list_traces(eval_run_id="e1")[0]["tags"] == {"u": "a"}
    with pytest.raises(ValueError, match="eval_run_id"):
        fa.RunOptions(eval_run_id=3)
    assert rt.list_traces(eval_run_id="e1", test_case_id="c2") == []


def json_script() -> str:
    return '{"script": [{"text": "hi"}]}'
