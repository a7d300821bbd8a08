"""Scorers on hand-computed expectations (no runtime, no model)."""

from __future__ import annotations

import pytest

from flowai_nb.evals import (
    RawSampleOutput,
    ResponseScorer,
    define_eval_config,
    define_expected_action,
    define_expected_actions,
    define_test_case,
    score_actions,
    score_response,
    score_sample,
    score_trajectory,
)
from flowai_nb.evals.scorers import JudgeVerdict, json_equal, json_subset

# --- trajectory ---------------------------------------------------------------------------


@pytest.mark.parametrize(("expected", "actual", "match", "score"), [
    (["a", "b", "c"], ["a", "b", "c"], "exact", 1.0),
    (["a", "b", "c"], ["a", "b", "x"], "exact", 2 / 3),       # common prefix 2 / max(3, 3)
    (["a", "b"], ["a", "b", "c", "d"], "exact", 2 / 4),       # extra steps cost
    (["a", "b", "c"], ["b", "a", "c"], "exact", 0.0),         # no common prefix
    ([], [], "exact", 1.0),
    (["a", "c"], ["a", "b", "c"], "in_order", 1.0),           # subsequence, extras allowed
    (["a", "b", "c"], ["c", "b", "a"], "in_order", 1 / 3),    # LCS 1 / 3
    (["a", "b", "c"], ["a", "c"], "in_order", 2 / 3),
    ([], ["a"], "in_order", 1.0),
    (["a", "b", "c"], ["c", "a", "b"], "any_order", 1.0),
    (["a", "a", "b"], ["a", "b", "b"], "any_order", 2 / 3),   # multiset ∩ = {a, b}
    (["a", "b"], ["b", "a", "z", "y"], "any_order", 2 / 4),   # extras cost under any_order
])
def test_trajectory_scores(expected, actual, match, score):
    got, details = score_trajectory(expected, actual, match)
    assert got == pytest.approx(score)
    assert details


def test_trajectory_unknown_match_is_rejected():
    with pytest.raises(ValueError, match="unknown trajectory_match 'fuzzy'"):
        score_trajectory(["a"], ["a"], "fuzzy")


def test_config_chooses_trajectory_match():
    case = define_test_case("t", "p", expected_trajectory=["call_agent", "store_plan"])
    out = RawSampleOutput(actual_trajectory=["call_agent", "run_sql", "store_plan"])
    assert score_sample(case, out).aggregate == pytest.approx(1 / 3)
    in_order = define_eval_config(trajectory_match="in_order")
    assert score_sample(case, out, config=in_order).aggregate == 1.0


# --- JSON-semantic comparison ---------------------------------------------------------------


def test_json_equal_ignores_key_order_and_int_float():
    assert json_equal({"a": 1, "b": [1, {"c": 2}]}, {"b": [1.0, {"c": 2.0}], "a": 1.0})
    assert json_equal((1, 2), [1, 2])
    assert not json_equal({"a": True}, {"a": 1})            # JSON true is not 1
    assert not json_equal({"a": "1"}, {"a": 1})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})       # exact: extra key differs
    assert not json_equal([1, 2], [2, 1])                  # arrays are ordered


def test_json_subset_is_deep():
    actual = {"sku": "A1", "qty": 5.0, "meta": {"source": "x", "urgent": False}, "tags": [1, 2]}
    assert json_subset({"qty": 5, "meta": {"urgent": False}}, actual)
    assert json_subset({}, actual)
    assert not json_subset({"meta": {"urgent": 0}}, actual)
    assert not json_subset({"missing": None}, actual)
    assert not json_subset({"tags": [1]}, actual)          # arrays need equal length


# --- actions ------------------------------------------------------------------------------

RESTOCK_A = define_expected_action("restock", {"sku": "A", "qty": 5})
RESTOCK_B = define_expected_action("restock", {"sku": "B", "qty": 1})
RETIRE_C = define_expected_action("retire", sku="C")


def _act(kind, **payload):
    return {"kind": kind, "payload": payload, "references": []}


def test_actions_match_in_any_order_json_semantically():
    expected = define_expected_actions([RESTOCK_A, RETIRE_C])
    actual = [_act("retire", sku="C"), {"kind": "restock", "payload": {"qty": 5.0, "sku": "A"}}]
    assert score_actions(expected, actual)[0] == 1.0


def test_actions_partial_credit_formula():
    expected = define_expected_actions([RESTOCK_A, RESTOCK_B, RETIRE_C])
    # restock A matches fully, restock B has a wrong qty (kind-only: half credit),
    # retire C is missing, and an unexpected "audit" was added:
    actual = [_act("restock", sku="A", qty=5), _act("restock", sku="B", qty=2), _act("audit")]
    score, details = score_actions(expected, actual)
    assert score == pytest.approx((1 + 0.5 * 1) / 3)
    assert "1/3 expected actions matched" in details


def test_actions_extra_action_costs():
    expected = define_expected_actions([RESTOCK_A])
    actual = [_act("restock", sku="A", qty=5), _act("retire", sku="Z")]
    assert score_actions(expected, actual)[0] == pytest.approx(1 / 2)


def test_actions_kind_must_match_even_with_equal_payload():
    expected = define_expected_actions([define_expected_action("restock", sku="A")])
    assert score_actions(expected, [_act("retire", sku="A")])[0] == 0.0


def test_actions_matching_is_one_to_one_and_maximal():
    # Greedy pairing would pair expected {} (subset of anything) with the first actual and
    # leave {"sku": "A"} unmatched; the maximum matching pairs both.
    expected = define_expected_actions(
        [define_expected_action("restock"), define_expected_action("restock", sku="A")],
        payload_match="subset")
    actual = [_act("restock", sku="A", qty=1), _act("restock", sku="B")]
    assert score_actions(expected, actual)[0] == 1.0
    # Two identical expectations need two actual actions:
    twice = define_expected_actions([RESTOCK_A, RESTOCK_A])
    assert score_actions(twice, [_act("restock", sku="A", qty=5)])[0] == pytest.approx(1 / 2)


def test_actions_subset_vs_exact_payloads():
    actual = [_act("restock", sku="A", qty=5, note="rush")]
    exact = define_expected_actions([RESTOCK_A])
    subset = define_expected_actions([RESTOCK_A], payload_match="subset")
    assert score_actions(exact, actual)[0] == 0.5          # kind right, payload differs
    assert score_actions(subset, actual)[0] == 1.0


def test_actions_flat_form_and_empty_lists():
    expected = define_expected_actions([RETIRE_C])
    assert score_actions(expected, [{"kind": "retire", "sku": "C", "references": []}])[0] == 1.0
    assert score_actions(define_expected_actions([]), [])[0] == 1.0
    assert score_actions(define_expected_actions([]), [_act("retire")])[0] == 0.0
    with pytest.raises(ValueError, match="must be a mapping with a 'kind'"):
        score_actions(expected, [{"sku": "C"}])


# --- final response -------------------------------------------------------------------------


@pytest.mark.parametrize(("scorer", "text", "score"), [
    (ResponseScorer.exact("Restocked 5 units."), "  Restocked 5 units.\n", 1.0),
    (ResponseScorer.exact("Restocked 5 units."), "Restocked 5 units", 0.0),
    (ResponseScorer.exact("DONE", ignore_case=True), "done", 1.0),
    (ResponseScorer.contains("5 units"), "Restocked 5 units.", 1.0),
    (ResponseScorer.contains("5 Units"), "Restocked 5 units.", 0.0),
    (ResponseScorer.contains("5 Units", ignore_case=True), "Restocked 5 units.", 1.0),
    (ResponseScorer.regex(r"\b\d+ units\b"), "Restocked 12 units.", 1.0),
    (ResponseScorer.regex(r"^units"), "Restocked 12 units.", 0.0),
    (ResponseScorer.regex(r"^restocked", ignore_case=True), "Restocked", 1.0),
])
def test_response_scorers(scorer, text, score):
    assert score_response(scorer, text)[0] == score


def test_bad_regex_is_rejected_at_construction():
    with pytest.raises(ValueError, match=r"invalid regex '\(unclosed'"):
        ResponseScorer.regex("(unclosed")


def test_judge_needs_a_verdict_offline():
    judge = ResponseScorer.judge("Is it polite?")
    assert score_response(judge, "x", JudgeVerdict(verdict=True))[0] == 1.0
    assert score_response(judge, "x", JudgeVerdict(verdict=False))[0] == 0.0
    score, details = score_response(judge, "x", JudgeVerdict(verdict=True, error="boom"))
    assert score == 0.0 and "judge error: boom" in details
    with pytest.raises(ValueError, match="no verdict for question 'Is it polite\\?'"):
        score_response(judge, "x")


def test_score_sample_reads_judge_verdicts_in_any_accepted_form():
    case = define_test_case("j", "p", final_response=[ResponseScorer.judge("Polite?"),
                                                      ResponseScorer.judge("Short?")])
    out = RawSampleOutput(final_text="hi", judge_verdicts={"Polite?": "yes", "Short?": False})
    scored = score_sample(case, out)
    assert [c.score for c in scored.component_scores] == [1.0, 0.0]
    assert [c.name for c in scored.component_scores] == ["response.judge", "response.judge#2"]
    assert scored.aggregate == 0.5
    with pytest.raises(ValueError, match="is not 'yes' or 'no'"):
        RawSampleOutput(judge_verdicts={"Polite?": "maybe"})


# --- combining: weights, presets, gates -------------------------------------------------------

CASE = define_test_case(
    "c", "p",
    expected_trajectory=["a", "b"],
    expected_actions=[RESTOCK_A],
    final_response=[ResponseScorer.contains("ok"), ResponseScorer.contains("done", weight=3)],
)
# trajectory 0.5 (prefix 1 of 2), actions 1.0, contains ok 1.0, contains done 0.0
OUT = RawSampleOutput(actual_trajectory=["a", "x"],
                      actual_actions=[_act("restock", sku="A", qty=5)], final_text="ok")


def test_weighted_mean_of_components():
    scored = score_sample(CASE, OUT)
    assert [c.score for c in scored.component_scores] == [0.5, 1.0, 1.0, 0.0]
    # weights 1, 1, 1, 3 -> (0.5 + 1 + 1 + 0) / 6
    assert scored.aggregate == pytest.approx(2.5 / 6)


def test_score_weights_by_name_and_group():
    cfg = define_eval_config(score_weights={"trajectory": 0, "response": 2,
                                            "response.contains#2": 0})
    # weights: trajectory 0, actions 1, "ok" 2*1, "done" 0 -> (1 + 2) / 3
    assert score_sample(CASE, OUT, config=cfg).aggregate == pytest.approx(1.0)
    cfg = define_eval_config(score_weights={"actions": 0})
    assert score_sample(CASE, OUT, config=cfg).aggregate == pytest.approx(1.5 / 5)


def test_scorer_preset_weights_groups():
    # planner preset: trajectory 1, actions 3, response 0.5 (times own weights 1 and 3)
    scored = score_sample(CASE, OUT, scorer_preset="planner")
    expected = (1 * 0.5 + 3 * 1.0 + 0.5 * 1.0 + 1.5 * 0.0) / (1 + 3 + 0.5 + 1.5)
    assert scored.aggregate == pytest.approx(expected)
    # explicit score_weights beat the preset
    cfg = define_eval_config(scorer_preset="planner", score_weights={"actions": 1})
    expected = (0.5 + 1.0 + 0.5 * 1.0 + 0) / (1 + 1 + 0.5 + 1.5)
    assert score_sample(CASE, OUT, config=cfg).aggregate == pytest.approx(expected)
    with pytest.raises(ValueError, match="unknown scorer_preset 'boss'"):
        score_sample(CASE, OUT, scorer_preset="boss")


def test_required_scorer_gates_the_sample():
    case = define_test_case("g", "p", expected_trajectory=["a"],
                            final_response=[ResponseScorer.contains("total", required=True)])
    failed = score_sample(case, RawSampleOutput(actual_trajectory=["a"], final_text="nope"))
    assert failed.aggregate == 0.0 and failed.gate_failures == ("response.contains",)
    passed = score_sample(case, RawSampleOutput(actual_trajectory=["a"], final_text="total 3"))
    assert passed.aggregate == 1.0 and passed.gate_failures == ()


def test_no_expectations_scores_one_and_all_zero_weights_is_plain_mean():
    assert score_sample(define_test_case("n", "p"), RawSampleOutput()).aggregate == 1.0
    cfg = define_eval_config(score_weights={"trajectory": 0, "actions": 0, "response": 0})
    assert score_sample(CASE, OUT, config=cfg).aggregate == pytest.approx(2.5 / 4)


def test_score_sample_accepts_a_mapping_in_camel_case():
    out = {"actualTrajectory": ["a", "b"], "actualActions": [_act("restock", sku="A", qty=5)],
           "finalText": "ok done"}
    assert score_sample(CASE, out).aggregate == 1.0
