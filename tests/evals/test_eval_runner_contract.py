"""The eval runner against a stand-in runtime replaying engine-contract events."""

from __future__ import annotations

import asyncio
import io

import pytest

from flowai_nb.evals import (
    EvalArtifact,
    ResponseScorer,
    define_eval_config,
    define_eval_request,
    define_expected_action,
    define_test_case,
    run_eval,
    run_eval_sync,
    stream_eval,
)

from ._fake_runtime import FakeRuntime

GOOD = [("tool", "call_agent", {"agent": "plan", "prompt": "x"}),
        ("tool", "store_plan", {"plan": "p"}),
        ("plan", "p1", [{"kind": "restock", "payload": {"sku": "A", "qty": 5}, "references": []}]),
        ("text", "Restocked 5 units.")]


def _good_case(**kw):
    return define_test_case(
        "good", "good", expected_trajectory=["call_agent", "store_plan"],
        expected_actions=[define_expected_action("restock", sku="A", qty=5.0)],
        final_response=[ResponseScorer.contains("Restocked")], tags=["smoke"], **kw)


def test_run_eval_scores_records_and_tags_traces():
    rt = FakeRuntime({"good": GOOD})
    req = define_eval_request([_good_case()], define_eval_config(samples_per_case=2),
                              eval_run_id="ev1")
    artifact = asyncio.run(run_eval(rt, req))
    assert artifact["evalRunId"] == "ev1" and artifact["passed"] is True
    case = artifact["testCases"][0]
    assert (case["id"], case["passRate"], case["meanScore"]) == ("good", 1.0, 1.0)
    assert case["passAtK"] == {"1": 1.0, "2": 1.0}
    sample = case["samples"][0]
    assert sample["trajectory"] == ["call_agent", "store_plan"]
    assert sample["actions"] == [{"kind": "restock", "payload": {"sku": "A", "qty": 5}}]
    assert sample["finalText"] == "Restocked 5 units."
    assert sample["usage"] == {"inputTokens": 10, "outputTokens": 5, "costUsd": 0.001}
    assert [c["name"] for c in sample["components"]] == ["trajectory", "actions",
                                                         "response.contains"]
    # each sample on its own fresh thread, approvals default to approve, trace tags passed
    threads = [c["thread"] for c in rt.calls]
    assert len(set(threads)) == 2 and all(t.startswith("ev1:good:") for t in threads)
    assert all(c["approvals"] == "auto_approve" for c in rt.calls)
    traces = rt.list_traces(eval_run_id="ev1", test_case_id="good")
    assert sorted(t["traceId"] for t in traces) == sorted(s["traceId"] for s in case["samples"])
    assert artifact["summary"]["usage"] == {"inputTokens": 20, "outputTokens": 10}
    assert artifact["summary"]["costUsd"] == pytest.approx(0.002)


def test_case_approvals_are_given_in_order_then_approve():
    rt = FakeRuntime({"good": GOOD})
    case = _good_case(approvals=["reject", {"outcome": "revise", "feedback": "fewer"}])
    asyncio.run(run_eval(rt, define_eval_request([case], define_eval_config(samples_per_case=1))))
    decide = rt.calls[0]["approvals"]
    assert [decide({}) for _ in range(3)] == [
        "reject", {"outcome": "revise", "feedback": "fewer", "partial": None}, "approve"]


def test_modes_pick_the_entry_point():
    rt = FakeRuntime({"good": GOOD})
    for cfg, entry in [(define_eval_config(mode="planner"), "plan"),
                       (define_eval_config(mode="specialist", target_agent_id="sales"), "sales"),
                       (define_eval_config(mode="sequential"), "query")]:
        rt.calls.clear()
        asyncio.run(run_eval(rt, define_eval_request(
            [_good_case()], cfg.model_copy(update={"samples_per_case": 1}))))
        assert [c["entry"] for c in rt.calls] == [entry]


def test_bad_targets_and_tenants_are_refused():
    rt = FakeRuntime({"good": GOOD})
    with pytest.raises(ValueError, match="target_agent_id 'ghost' is not an agent"):
        asyncio.run(run_eval(rt, define_eval_request(
            [_good_case()], define_eval_config(mode="specialist", target_agent_id="ghost"))))
    with pytest.raises(ValueError, match="mode 'executor' needs target_agent_id"):
        asyncio.run(run_eval(rt, define_eval_request([_good_case()],
                                                     define_eval_config(mode="executor"))))
    with pytest.raises(ValueError, match="for tenant 'globex' but the runtime serves 'acme@1'"):
        asyncio.run(run_eval(rt, define_eval_request([_good_case()], tenant="globex")))
    with pytest.raises(ValueError, match="not valid JSON"):
        asyncio.run(run_eval(rt, "{oops"))
    assert rt.calls == []


def test_failed_runs_and_timeouts_score_zero_without_hanging():
    rt = FakeRuntime({"good": GOOD, "boom": [("fail", "model exploded")],
                      "slow": [("text", "partial "), ("sleep", 30), ("text", "never")]})
    cases = [_good_case(), define_test_case("boom", "boom"), define_test_case("slow", "slow")]
    cfg = define_eval_config(samples_per_case=1, timeout_per_sample_secs=0.2, concurrency=3)
    art = run_eval_sync(rt, define_eval_request(cases, cfg))
    by_id = {c.id: c.samples[0] for c in art.test_cases}
    assert by_id["boom"].error == "model exploded" and by_id["boom"].score == 0.0
    assert by_id["slow"].error == "timeout" and by_id["slow"].score == 0.0
    assert not by_id["slow"].passed
    assert rt.cancelled == [by_id["slow"].thread_id]
    assert art.summary["timeouts"] == 1 and art.summary["errors"] == 1
    assert art.aggregate_score == pytest.approx(1 / 3) and not art.passed


def test_concurrency_limit_is_respected():
    rt = FakeRuntime({"nap": [("sleep", 0.01), ("text", "ok")]})
    cases = [define_test_case(f"c{i}", "nap") for i in range(4)]
    for limit in (1, 3):
        rt.max_active = 0
        run_eval_sync(rt, define_eval_request(cases, define_eval_config(
            samples_per_case=2, concurrency=limit)))
        assert rt.max_active == limit


def test_tags_filter_selects_cases():
    rt = FakeRuntime({"good": GOOD})
    cases = [_good_case(), define_test_case("other", "good", tags=["slow"])]
    art = run_eval_sync(rt, define_eval_request(cases, define_eval_config(
        samples_per_case=1, tags_filter=["smoke"])))
    assert [c.id for c in art.test_cases] == ["good"]
    with pytest.raises(ValueError, match=r"tags_filter \['nightly'\] matches no test case; "
                                         r"tags present: \['slow', 'smoke'\]"):
        run_eval_sync(rt, define_eval_request(cases, define_eval_config(tags_filter="nightly")))


def test_pass_at_k_and_threshold_from_mixed_samples():
    # the judge says yes, no, yes, no, yes: 3 of 5 samples pass
    rt = FakeRuntime({"j": [("text", "Hello!")]}, judge=["yes", "no", "Yes.", "no", "yes"])
    case = define_test_case("j", "j", final_response=[ResponseScorer.judge("Is it a greeting?")])
    cfg = define_eval_config(samples_per_case=5, concurrency=1, k_values=[1, 2],
                             pass_threshold=0.5)
    art = run_eval_sync(rt, define_eval_request([case], cfg))
    result = art.test_cases[0]
    assert [s.passed for s in result.samples] == [True, False, True, False, True]
    assert result.pass_rate == pytest.approx(0.6)
    assert result.pass_at_k == {1: pytest.approx(0.6), 2: pytest.approx(1 - 1 / 10)}
    assert art.passed
    request = rt.interpreter.requests[0]
    assert request.agent == "judge" and "Hello!" in request.messages[0]["content"][0]["text"]


def test_judge_errors_and_unparseable_answers_fail():
    rt = FakeRuntime({"j": [("text", "Hi")]}, judge=[RuntimeError("rate limited"), "perhaps"])
    case = define_test_case("j", "j", final_response=[ResponseScorer.judge("Greeting?")])
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(
        samples_per_case=2, concurrency=1)))
    details = [s.components[0].details for s in art.test_cases[0].samples]
    assert details == ["judge error: RuntimeError: rate limited",
                       "judge error: judge answered 'perhaps', expected yes or no"]
    assert art.aggregate_score == 0.0


def _shape(envelopes):
    return [(e["type"], e["seq"], e["data"].get("caseId", e["data"].get("id")),
             e["data"].get("index")) for e in envelopes]


def test_stream_envelopes_are_ordered_and_deterministic():
    rt = FakeRuntime({"fast": [("text", "ok")], "slow": [("sleep", 0.03), ("text", "ok")]})
    cases = [define_test_case("slow", "slow"), define_test_case("fast", "fast")]
    req = define_eval_request(cases, define_eval_config(samples_per_case=2, concurrency=2))

    async def collect():
        return [e async for e in stream_eval(rt, req)]

    first = asyncio.run(collect())
    assert _shape(first) == _shape(asyncio.run(collect()))
    types = [e["type"] for e in first]
    assert types == ["eval-start", "sample-start", "sample-start",
                     "sample-finish", "sample-start", "sample-finish", "case-finish",
                     "sample-start", "sample-finish", "sample-finish", "case-finish",
                     "eval-finish"]
    assert [e["seq"] for e in first] == list(range(len(first)))
    assert len({e["evalRunId"] for e in first}) == 1
    finish = [e for e in first if e["type"] == "sample-finish"]
    assert [(e["data"]["caseId"], e["data"]["index"]) for e in finish] == [
        ("slow", 0), ("slow", 1), ("fast", 0), ("fast", 1)]
    assert all(e["data"]["score"] == 1.0 for e in finish)
    assert EvalArtifact.model_validate(first[-1]["data"]).passed


def test_plain_for_and_progress_line():
    rt = FakeRuntime({"good": GOOD})
    out = io.StringIO()
    stream = stream_eval(rt, define_eval_request([_good_case()], name="nightly"), progress=out)
    kinds = [e["type"] for e in stream]
    assert kinds[0] == "eval-start" and kinds[-1] == "eval-finish"
    assert stream.artifact is not None and stream.artifact["name"] == "nightly"
    assert "nightly: 3/3 |" in out.getvalue() and "3 passed" in out.getvalue()


def test_runtime_exception_fails_the_eval_with_runtime_error():
    rt = FakeRuntime({"good": GOOD})

    def broken(*args, **kwargs):
        raise OSError("store unreachable")

    rt.query = broken
    with pytest.raises(RuntimeError, match="failed on case 'good' sample 0: OSError: store"):
        run_eval_sync(rt, define_eval_request([_good_case()]))


def test_trajectory_of_agents():
    rt = FakeRuntime({"a": [("agent", "plan"), ("tool", "store_plan", {}), ("agent", "exec")]})
    case = define_test_case("a", "a", expected_trajectory=["boss", "plan", "exec"])
    art = run_eval_sync(rt, define_eval_request([case], define_eval_config(
        samples_per_case=1, trajectory_kind="agents")))
    assert art.test_cases[0].samples[0].trajectory == ("boss", "plan", "exec")
    assert art.passed


def test_run_eval_sync_and_plain_for_inside_a_running_loop_never_reenter_it():
    rt = FakeRuntime({"good": GOOD})
    req = define_eval_request([_good_case()], define_eval_config(samples_per_case=1))

    async def notebook_cell():
        loop = asyncio.get_running_loop()
        ticks = []
        loop.call_soon(ticks.append, "kernel loop ran")  # would run if the loop were re-entered
        artifact = run_eval_sync(rt, req)
        kinds = [envelope["type"] for envelope in stream_eval(rt, req)]
        assert ticks == []  # the cell's loop stayed paused: nothing re-entered it
        await asyncio.sleep(0)
        assert ticks == ["kernel loop ran"]
        return artifact, kinds

    artifact, kinds = asyncio.run(notebook_cell())
    assert artifact.passed
    assert kinds[0] == "eval-start" and kinds[-1] == "eval-finish"


def test_closing_a_stream_early_cancels_running_samples():
    rt = FakeRuntime({"nap": [("sleep", 30), ("text", "late")]})
    req = define_eval_request([define_test_case("nap", "nap")],
                              define_eval_config(samples_per_case=4, concurrency=2))

    async def peek():
        stream = stream_eval(rt, req)
        kinds = [(await anext(stream))["type"] for _ in range(3)]
        await stream.aclose()
        return kinds

    assert asyncio.run(asyncio.wait_for(peek(), 5)) == ["eval-start", "sample-start",
                                                       "sample-start"]
    assert rt.active == 0
