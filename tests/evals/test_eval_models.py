"""Eval spec models: construction, wire form, parsing and validation errors."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from flowai_nb.authoring.tenant import define_tenant
from flowai_nb.evals import (
    EvalConfig,
    EvalRequest,
    ResponseScorer,
    define_eval_config,
    define_eval_request,
    define_expected_action,
    define_expected_actions,
    define_test_case,
    parse_eval_request,
)


def _case(**kw):
    return define_test_case(
        "restock-7", "Restock store 7",
        expected_trajectory=["call_agent", "store_plan"],
        expected_actions=define_expected_actions([define_expected_action("restock", sku="A")],
                                                 payload_match="subset"),
        final_response=[ResponseScorer.contains("restocked", required=True)],
        tags=["smoke"], approvals=["approve", {"outcome": "reject", "feedback": "too many"}],
        **kw)


def test_wire_form_is_camel_case_and_round_trips():
    req = define_eval_request([_case()], define_eval_config(samples_per_case=2, concurrency=4),
                              name="nightly")
    wire = req.to_wire()
    assert set(wire) >= {"testCases", "config", "tenant", "name"}
    case = wire["testCases"][0]
    assert case["expectedTrajectory"] == ["call_agent", "store_plan"]
    assert case["expectedActions"]["payloadMatch"] == "subset"
    assert case["finalResponse"][0]["required"] is True
    assert wire["config"]["samplesPerCase"] == 2
    assert wire["config"]["aggregationStrategy"] == "passRate"
    assert EvalRequest.model_validate(wire) == req
    assert parse_eval_request(json.dumps(wire)) == req
    assert parse_eval_request(wire) == req


def test_both_spellings_accepted_and_models_frozen():
    cfg = EvalConfig.model_validate({"samples_per_case": 4, "passThreshold": 0.5,
                                     "aggregation_strategy": "mean_score"})
    assert (cfg.samples_per_case, cfg.pass_threshold) == (4, 0.5)
    assert cfg.aggregation_strategy == "meanScore"
    with pytest.raises(ValidationError):
        cfg.samples_per_case = 9


def test_defaults_follow_the_spec():
    cfg = define_eval_config()
    assert (cfg.mode, cfg.samples_per_case, cfg.pass_threshold, cfg.concurrency,
            cfg.timeout_per_sample_secs, cfg.aggregation_strategy, cfg.trajectory_match) == (
        "sequential", 3, 0.7, 2, 120, "passRate", "exact")
    assert cfg.ks == (1, 3)
    assert define_eval_config(k_values=[2, 1, 2]).ks == (1, 2)
    case = define_test_case("x", "p")
    assert case.approvals is None and case.final_response is None


def test_expected_action_keywords_merge_into_payload():
    action = define_expected_action("restock", {"sku": "A"}, qty=3)
    assert action.payload == {"sku": "A", "qty": 3}


@pytest.mark.parametrize(("bad", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be an EvalRequest, a mapping or a JSON object"),
    ({"testCases": []}, "testCases"),
    ({"testCases": [{"id": "a"}]}, "prompt"),
    ({"testCases": [{"id": "a", "prompt": "p"}], "config": {"mode": "chaos"}}, "mode"),
    ({"testCases": [{"id": "a", "prompt": "p"}, {"id": "a", "prompt": "q"}]},
     "duplicate test case id 'a'"),
    ({"testCases": [{"id": "a", "prompt": "p"}], "config": {"samplesPerCase": 0}},
     "samplesPerCase"),
    ({"testCases": [{"id": "a", "prompt": "p"}], "config": {"mode": "specialist"}},
     "needs target_agent_id"),
    ({"testCases": [{"id": "a", "prompt": "p"}], "config": {"kValues": [5]}},
     "k_values entry 5 is outside 1..samples_per_case"),
    ({"testCases": [{"id": "a", "prompt": "p"}], "config": {"scorerPreset": "boss"}},
     "unknown scorer_preset 'boss'"),
    ({"testCases": [{"id": "a", "prompt": "p"}], "config": {"scoreWeights": {"x": -1}}},
     "must be finite and >= 0"),
    ({"testCases": [{"id": "a", "prompt": "p", "approvals": ["maybe"]}]}, "outcome"),
    (42, "got int"),
])
def test_unparseable_requests_raise_value_error_naming_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_eval_request(bad)


def test_tenant_matching():
    tenant = define_tenant("acme", "1")
    assert define_eval_request([_case()]).tenant_matches(tenant)
    assert define_eval_request([_case()], tenant=tenant).tenant_matches(tenant)
    assert define_eval_request([_case()], tenant="acme@1").tenant_matches(tenant)
    assert define_eval_request([_case()], tenant="acme").tenant_matches(tenant)
    assert not define_eval_request([_case()], tenant="globex").tenant_matches(tenant)
    assert not define_eval_request([_case()], tenant=define_tenant("acme", "2")
                                   ).tenant_matches(tenant)


def test_approval_decisions_convert_to_the_engine_form():
    case = _case()
    assert [d.to_engine() for d in case.approvals] == [
        "approve", {"outcome": "reject", "feedback": "too many", "partial": None}]


def test_score_weight_keys_must_name_a_scorer() -> None:
    case = define_test_case("c", "p", expected_trajectory=["a"],
                            final_response=[ResponseScorer.contains("x")])
    with pytest.raises(ValueError, match="'trajectroy' matches no scorer"):
        define_eval_request([case], define_eval_config(score_weights={"trajectroy": 2}))
    define_eval_request([case], define_eval_config(score_weights={"trajectory": 2,
                                                                  "response.contains": 1}))


@pytest.mark.parametrize("weight", [float("nan"), float("inf")])
def test_weights_must_be_finite(weight) -> None:
    with pytest.raises(ValueError):
        ResponseScorer.contains("x", weight=weight)
    with pytest.raises(ValueError, match="finite"):
        define_eval_config(score_weights={"trajectory": weight})


def test_empty_k_values_is_an_error() -> None:
    with pytest.raises(ValueError, match="k_values is empty"):
        define_eval_config(k_values=[])
