"""pass@k (unbiased estimator) and aggregation strategies on hand-computed values."""

from __future__ import annotations

import pytest

from flowai_nb.evals import aggregate_cases, pass_at_k


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (5, 0, 1, 0.0),
    (5, 5, 3, 1.0),
    (5, 2, 1, 2 / 5),                    # 1 - C(3,1)/C(5,1) = 1 - 3/5
    (5, 2, 2, 1 - 3 / 10),               # 1 - C(3,2)/C(5,2)
    (5, 2, 3, 1 - 1 / 10),               # C(3,3)=1, C(5,3)=10
    (10, 3, 5, 1 - 21 / 252),            # C(7,5)=21, C(10,5)=252
    (4, 1, 4, 1.0),                      # n - c = 3 < k: every draw holds the pass
])
def test_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_rejects_impossible_inputs():
    with pytest.raises(ValueError, match="k=4 must be within 1..n"):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError, match="c=5 must be within 0..n"):
        pass_at_k(3, 5, 1)


def test_aggregation_strategies():
    rates, means = [1.0, 0.5], [0.9, 0.3]
    paks = [{1: 1.0, 3: 1.0}, {1: 0.5, 3: 0.8}]
    assert aggregate_cases("passRate", rates, means, paks) == pytest.approx(0.75)
    assert aggregate_cases("meanScore", rates, means, paks) == pytest.approx(0.6)
    assert aggregate_cases("passAtK", rates, means, paks) == pytest.approx(0.9)
    assert aggregate_cases("minScore", rates, means, paks) == pytest.approx(0.3)
    assert aggregate_cases("passRate", [], [], []) == 0.0
    with pytest.raises(ValueError, match="unknown aggregation_strategy 'median'"):
        aggregate_cases("median", rates, means, paks)
