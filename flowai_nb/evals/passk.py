"""pass@k with the unbiased estimator, and the case/eval aggregation strategies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb

__all__ = ["aggregate_cases", "pass_at_k"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` passes.

    Unbiased estimator over ``n`` samples of which ``c`` passed::

        pass@k = 1 - C(n - c, k) / C(n, k)

    (1 when ``n - c < k``: every draw of k contains a pass).

    Raises:
        ValueError: unless ``0 <= c <= n`` and ``1 <= k <= n``.
    """
    if not 0 <= c <= n:
        raise ValueError(f"passed count c={c} must be within 0..n (n={n})")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be within 1..n (n={n} samples)")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def aggregate_cases(strategy: str, pass_rates: Sequence[float], mean_scores: Sequence[float],
                    pass_at_ks: Sequence[Mapping[int, float]]) -> float:
    """The eval's ``aggregateScore`` from per-case results.

    - ``passRate``: mean over cases of the case pass rate (passed samples / samples).
    - ``meanScore``: mean over cases of the case mean sample score.
    - ``passAtK``: mean over cases of pass@k at the largest configured k.
    - ``minScore``: the lowest case mean score (the worst case decides).

    Cases weigh equally whatever their sample counts. No cases gives 0.
    """
    if not pass_rates:
        return 0.0
    if strategy == "passRate":
        return sum(pass_rates) / len(pass_rates)
    if strategy == "meanScore":
        return sum(mean_scores) / len(mean_scores)
    if strategy == "passAtK":
        values = [p[max(p)] for p in pass_at_ks]
        return sum(values) / len(values)
    if strategy == "minScore":
        return min(mean_scores)
    raise ValueError(f"unknown aggregation_strategy {strategy!r}; expected passRate, "
                     "meanScore, passAtK or minScore")
