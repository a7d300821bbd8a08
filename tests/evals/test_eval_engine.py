"""Evals on a real runtime with the scripted interpreter (offline, deterministic)."""

from __future__ import annotations

import asyncio
import json

import pytest

import flowai_nb as fa
from flowai_nb.evals import (
    EvalArtifact,
    ResponseScorer,
    define_eval_config,
    define_eval_request,
    define_expected_action,
    define_test_case,
    run_eval_sync,
    stream_eval,
)

from ._retail import NAP_LISTENERS, make_runtime

FLOW = ["call_agent", "store_plan", "call_agent", "execute_plan"]
ACTIONS = [define_expected_action("restock", sku="A1", qty=5),
           define_expected_action("retire", sku="Z9")]


def _restock_case(**kw):
    kw.setdefault("final_response", [ResponseScorer.contains("5 units")])
    return define_test_case("restock", "Restock A1", expected_trajectory=FLOW,
                            expected_actions=ACTIONS, **kw)


def test_sequential_eval_records_everything_and_traces_are_tagged():
    dispatched: list = []
    rt = make_runtime(dispatched)
    art = run_eval_sync(rt, define_eval_request([_restock_case()],
                                                define_eval_config(samples_per_case=2)))
    assert art.passed and art.aggregate_score == 1.0
    samples = art.test_cases[0].samples
    assert [s.trajectory for s in samples] == [tuple(FLOW)] * 2
    assert samples[0].actions == ({"kind": "restock", "payload": {"sku": "A1", "qty": 5}},
                                  {"kind": "retire", "payload": {"sku": "Z9"}})
    assert samples[0].final_text == "Restocked 5 units of A1."
    assert len(dispatched) == 2                      # approved by default, once per sample
    assert len({s.thread_id for s in samples}) == 2
    traces = rt.list_traces(eval_run_id=art.eval_run_id, test_case_id="restock")
    assert sorted(t["traceId"] for t in traces) == sorted(s.trace_id for s in samples)
    assert {t["threadId"] for t in traces} == {s.thread_id for s in samples}
    assert all(rt.get_trace(s.trace_id)["status"] == "completed" for s in samples)


def test_each_sample_stores_its_plan_as_v1_in_its_own_thread():
    dispatched: list = []
    rt = make_runtime(dispatched)
    art = run_eval_sync(rt, define_eval_request([_restock_case()],
                                                define_eval_config(samples_per_case=3)))
    samples = art.test_cases[0].samples
    assert art.passed and len(dispatched) == 3 and len({s.thread_id for s in samples}) == 3
    for sample in samples:
        stored = [e["planId"] for e in rt.get_trace(sample.trace_id)["events"]
                  if e["type"] == "plan-stored"]
        assert stored == ["p1@v1"]
        plan = rt.get_plan("p1", thread_id=sample.thread_id)
        assert (plan["id"], plan["status"]) == ("p1@v1", "executed")


def test_rejected_gate_never_reaches_the_dispatcher():
    dispatched: list = []
    rt = make_runtime(dispatched)
    case = _restock_case(approvals=["reject"])
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(samples_per_case=1)))
    assert dispatched == []
    sample = art.test_cases[0].samples[0]
    assert sample.trajectory == tuple(FLOW)           # the executor tried...
    trace = rt.get_trace(sample.trace_id)
    decisions = [e["outcome"] for e in trace["events"] if e["type"] == "approval-decision"]
    assert decisions == ["reject"]                    # ...and the case's decision answered


def test_same_request_gives_identical_scores_trajectories_and_envelopes():
    cases = [_restock_case(), define_test_case(
        "wrong", "Restock A1", expected_trajectory=["call_agent"],
        final_response=[ResponseScorer.exact("Nothing to do.")])]
    req = define_eval_request(cases, define_eval_config(samples_per_case=3, concurrency=4))

    async def once():
        rt = make_runtime()
        return [e async for e in stream_eval(rt, req)]

    runs = [asyncio.run(once()) for _ in range(2)]

    def view(envelopes):
        out = []
        for e in envelopes:
            d = e["data"]
            if e["type"] == "sample-finish":
                out.append((e["seq"], e["type"], d["caseId"], d["index"], d["score"],
                            tuple(d["sample"]["trajectory"])))
            else:
                out.append((e["seq"], e["type"], d.get("caseId", d.get("id"))))
        return out

    assert view(runs[0]) == view(runs[1])
    final = EvalArtifact.model_validate(runs[0][-1]["data"])
    assert [c.mean_score for c in final.test_cases] == [1.0, pytest.approx(1 / 8)]


def test_planner_mode_scores_the_stored_plan():
    dispatched: list = []
    rt = make_runtime(dispatched)
    case = define_test_case("plan", "Plan a restock", expected_trajectory=["store_plan"],
                            expected_actions=ACTIONS)
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(
        mode="planner", samples_per_case=1)))
    assert art.passed and dispatched == []
    assert art.test_cases[0].samples[0].final_text == "stored p1"


def test_executor_mode_scores_a_plan_stored_beforehand():
    dispatched: list = []
    rt = make_runtime(dispatched)
    run_eval_sync(rt, define_eval_request([define_test_case("setup", "Plan")],
                                          define_eval_config(mode="planner",
                                                             samples_per_case=1)))
    case = define_test_case("exec", "Run p1", expected_trajectory=["execute_plan"],
                            expected_actions=ACTIONS)
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(
        mode="executor", samples_per_case=1)))
    assert art.passed and len(dispatched) == 1


def test_specialist_mode_and_unknown_target():
    rt = make_runtime()
    case = define_test_case("stock", "How many A1?", expected_trajectory=["stock_level"],
                            final_response=[ResponseScorer.regex(r"\b12\b")])
    cfg = define_eval_config(mode="specialist", target_agent_id="stock", samples_per_case=2)
    assert run_eval_sync(rt, define_eval_request([case], cfg)).passed
    bad = cfg.model_copy(update={"target_agent_id": "nobody"})
    with pytest.raises(ValueError, match="target_agent_id 'nobody' is not an agent"):
        run_eval_sync(rt, define_eval_request([case], bad))


def test_judge_runs_on_the_scripted_interpreter():
    rt = make_runtime()
    case = _restock_case(final_response=[ResponseScorer.judge("Does it give a quantity?")])
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(samples_per_case=2)))
    comps = [s.components[-1] for s in art.test_cases[0].samples]
    assert [(c.name, c.score, c.details) for c in comps] == [
        ("response.judge", 1.0, "yes: Yes, it does.")] * 2


def test_judge_without_a_script_fails_the_scorer():
    rt = make_runtime()
    case = _restock_case(final_response=[ResponseScorer.judge("Polite?")])
    cfg = define_eval_config(samples_per_case=1, judge_agent="grader")
    comp = run_eval_sync(rt, define_eval_request([case], cfg)).test_cases[0].samples[0].components
    assert comp[-1].score == 0.0 and "no script for agent 'grader'" in comp[-1].details


def test_failed_runs_score_zero_and_slow_samples_time_out_cancelled():
    rt = make_runtime()
    # A prompt script calling a tool the coordinator does not have: the run fails.
    drift = define_test_case("drift", '{"script": [{"tool": "drop_tables", "args": {}}]}')
    # A specialist whose tool sleeps a minute: the per-sample timeout cancels the run.
    slow = define_test_case("slow", json.dumps({"script": [
        {"tool": "call_agent", "args": {"agent": "sleeper", "prompt": "nap"}}]}))
    cfg = define_eval_config(samples_per_case=1, timeout_per_sample_secs=0.5)
    art = run_eval_sync(rt, define_eval_request([drift, slow], cfg))
    failed, timed_out = (c.samples[0] for c in art.test_cases)
    assert failed.score == 0.0 and "drop_tables" in failed.error and not failed.passed
    assert timed_out.error == "timeout" and timed_out.score == 0.0
    assert timed_out.trajectory == ("call_agent", "nap")
    assert art.summary["timeouts"] == 1 and art.summary["errors"] == 1
    traces = rt.list_traces(eval_run_id=art.eval_run_id, test_case_id="slow")
    assert [t["status"] for t in traces] == ["cancelled"]
    assert timed_out.trace_id == traces[0]["traceId"]


def test_runtime_methods_delegate_and_other_tenants_are_refused():
    rt = make_runtime()
    req = define_eval_request([_restock_case()], define_eval_config(samples_per_case=1),
                              tenant="acme@1")
    artifact = asyncio.run(rt.run_eval(req.to_wire()))
    assert artifact["passed"] is True
    kinds = [e["type"] for e in rt.stream_eval(req.model_dump_json(by_alias=True))]
    assert kinds[0] == "eval-start" and kinds[-1] == "eval-finish"
    other = make_runtime(tenant="globex")
    with pytest.raises(ValueError, match="for tenant 'acme@1' but the runtime serves 'globex@1'"):
        asyncio.run(other.run_eval(req))


def test_mock_interpreter_runs_and_reports_usage():
    agents = [fa.define_coordinator("boss", model="m", prompt="Hi.")]
    spec = fa.define_runtime(fa.define_tenant("acme", "1"), agents=agents)
    rt = fa.create_runtime(spec, testing=fa.TestingConfig(mock_response="hello world"))
    case = define_test_case("hi", "Say hi", final_response=[ResponseScorer.exact("hello world")])
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(samples_per_case=2)))
    assert art.passed
    assert art.test_cases[0].samples[0].usage.get("outputTokens", 0) > 0


def test_reusing_an_eval_run_id_still_gives_fresh_threads():
    rt = make_runtime()
    req = define_eval_request([_restock_case()], define_eval_config(samples_per_case=1),
                              eval_run_id="nightly")
    first, second = run_eval_sync(rt, req), run_eval_sync(rt, req)
    assert first.passed and second.passed        # scripted cursors start over each time
    assert first.test_cases[0].samples[0].thread_id != second.test_cases[0].samples[0].thread_id
    assert len(rt.list_traces(eval_run_id="nightly", test_case_id="restock")) == 2


def test_closing_the_stream_cancels_the_runs_of_running_samples():
    rt = make_runtime()
    slow = define_test_case("slow", json.dumps({"script": [
        {"tool": "call_agent", "args": {"agent": "sleeper", "prompt": "nap"}}]}))
    req = define_eval_request([slow], define_eval_config(samples_per_case=2))

    async def stop_early():
        napping = asyncio.Event()
        naps = []

        def started() -> None:  # both samples' runs are inside their tool call
            naps.append(1)
            if len(naps) == 2:
                napping.set()

        NAP_LISTENERS.append(started)
        try:
            stream = stream_eval(rt, req)
            while (await anext(stream))["type"] != "sample-start":
                pass
            await napping.wait()
            await stream.aclose()
        finally:
            NAP_LISTENERS.remove(started)

    asyncio.run(asyncio.wait_for(stop_early(), 10))
    traces = rt.list_traces(test_case_id="slow")
    assert [t["status"] for t in traces] == ["cancelled", "cancelled"]


def test_a_partial_approval_records_only_the_actions_that_ran_as_they_ran():
    dispatched: list = []
    rt = make_runtime(dispatched)
    # keep action 0 with its qty typed as text (the plan type makes it 7); leave action 1 out
    partial = {"actions": [{"index": 0, "payload": {"sku": "A1", "qty": "7"}}]}
    case = define_test_case(
        "partial", "Restock A1", approvals=[{"outcome": "approve", "partial": partial}],
        expected_actions=[define_expected_action("restock", sku="A1", qty=7)])
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(samples_per_case=1)))
    [sample] = art.test_cases[0].samples
    assert [[a["payload"] for a in call] for call in dispatched] == [[{"sku": "A1", "qty": 7}]]
    assert sample.actions == ({"kind": "restock", "payload": {"sku": "A1", "qty": 7}},)
    assert sample.score == 1.0 and art.passed

    dispatched.clear()  # left out entirely: only the retire ran
    case = define_test_case("deselect", "Restock A1",
                            approvals=[{"outcome": "approve", "partial": {"actions": [1]}}])
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(samples_per_case=1)))
    [sample] = art.test_cases[0].samples
    assert sample.actions == ({"kind": "retire", "payload": {"sku": "Z9"}},)
    assert [[a["kind"] for a in call] for call in dispatched] == [["retire"]]
