"""Scorers: pure functions from a recorded sample output to scores in [0, 1].

Nothing here needs a runtime or a model: :func:`score_sample` scores a
:class:`RawSampleOutput` offline (judge scorers read their verdicts from
``RawSampleOutput.judge_verdicts``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, field_validator

from flowai_nb.authoring._base import SpecModel

from .models import SCORER_PRESETS, EvalConfig, EvalTestCase, ExpectedActions, ResponseScorer

__all__ = [
    "ComponentScore",
    "JudgeVerdict",
    "RawSampleOutput",
    "ScoredSample",
    "combine",
    "json_equal",
    "json_subset",
    "normalize_action",
    "score_actions",
    "score_response",
    "score_sample",
    "score_trajectory",
]


class ComponentScore(SpecModel):
    """The score one scorer gave a sample.

    Attributes:
        name: ``trajectory``, ``actions`` or a response scorer's name.
        score: in [0, 1].
        weight: its weight in the sample's weighted mean.
        required: whether it gates the sample.
        details: a short human-readable explanation.
    """

    name: str
    score: float = Field(ge=0, le=1)
    weight: float = 1.0
    required: bool = False
    details: str = ""


class JudgeVerdict(SpecModel):
    """A judge's answer to one question: ``verdict`` (yes = True), or an ``error``."""

    verdict: bool = False
    reason: str = ""
    error: str | None = None

    @classmethod
    def coerce(cls, value: Any) -> JudgeVerdict:
        """Accept a bool, ``"yes"``/``"no"``, a mapping or a :class:`JudgeVerdict`."""
        if isinstance(value, JudgeVerdict):
            return value
        if isinstance(value, bool):
            return cls(verdict=value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("yes", "no"):
                return cls(verdict=word == "yes")
            raise ValueError(f"judge verdict {value!r} is not 'yes' or 'no'")
        return cls.model_validate(value)


class RawSampleOutput(SpecModel):
    """What a sample produced, as recorded (or hand-written for offline scoring).

    Attributes:
        actual_trajectory: tool (or agent) names in the order they happened.
        actual_actions: plan actions, each ``{kind, payload, references?}`` or the flat
            form ``{kind, **fields}``.
        final_text: the run's final text.
        judge_verdicts: ``{question: verdict}`` for judge scorers (bool, "yes"/"no",
            or ``{"verdict": bool, "reason": ..., "error": ...}``).
    """

    actual_trajectory: tuple[str, ...] = ()
    actual_actions: tuple[dict[str, Any], ...] = ()
    final_text: str = ""
    judge_verdicts: dict[str, JudgeVerdict] = Field(default_factory=dict)

    @field_validator("judge_verdicts", mode="before")
    @classmethod
    def _coerce_verdicts(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): JudgeVerdict.coerce(v) for k, v in value.items()}
        return value


class ScoredSample(SpecModel):
    """The result of :func:`score_sample`.

    Attributes:
        aggregate: the sample's score in [0, 1] (see :func:`combine`).
        component_scores: one :class:`ComponentScore` per scorer that applied.
        gate_failures: names of required scorers that scored below 1 (then aggregate is 0).
    """

    aggregate: float
    component_scores: tuple[ComponentScore, ...] = ()
    gate_failures: tuple[str, ...] = ()

    def component(self, name: str) -> ComponentScore:
        """The component called ``name`` (KeyError listing the known names otherwise)."""
        for comp in self.component_scores:
            if comp.name == name:
                return comp
        raise KeyError(f"no component {name!r}; components: "
                       f"{[c.name for c in self.component_scores]}")


# --- JSON-semantic comparison -------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def json_equal(a: Any, b: Any) -> bool:
    """JSON-semantic equality: key order ignored, ``1 == 1.0``, ``True != 1``, tuple == list."""
    return _json_match(_jsonable(a), _jsonable(b), subset=False)


def json_subset(expected: Any, actual: Any) -> bool:
    """Whether ``expected`` is a deep subset of ``actual``.

    Objects: every expected key is present in ``actual`` with a subset-matching value
    (extra actual keys are fine). Arrays: same length, element-wise subset match.
    Scalars: JSON-semantic equality (as :func:`json_equal`).
    """
    return _json_match(_jsonable(expected), _jsonable(actual), subset=True)


def _json_match(expected: Any, actual: Any, *, subset: bool) -> bool:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        if not subset and expected.keys() != actual.keys():
            return False
        return all(k in actual and _json_match(v, actual[k], subset=subset)
                   for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(_json_match(e, a, subset=subset) for e, a in zip(expected, actual,
                                                                         strict=True)))
    return _scalar_equal(expected, actual)


# --- trajectory -------------------------------------------------------------------------

def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def score_trajectory(expected: Sequence[str], actual: Sequence[str],
                     match: str = "exact") -> tuple[float, str]:
    """Score a trajectory; returns ``(score, details)``.

    With ``E`` the expected and ``A`` the actual list of names:

    - ``exact``: 1 when ``A == E``; otherwise partial credit
      ``common_prefix(E, A) / max(|E|, |A|)`` (getting the first steps right counts,
      any extra or missing step costs).
    - ``in_order``: ``E`` must be an in-order subsequence of ``A`` (extra steps allowed):
      ``LCS(E, A) / |E|``.
    - ``any_order``: same names, any order: ``|E ∩ A| / max(|E|, |A|)`` with ``∩`` the
      multiset intersection (extra steps cost).

    Two empty lists score 1; an empty ``E`` scores 1 under ``in_order``.
    """
    exp, act = list(expected), list(actual)
    if match == "exact":
        if exp == act:
            return 1.0, "exact match"
        prefix = 0
        for x, y in zip(exp, act, strict=False):
            if x != y:
                break
            prefix += 1
        return prefix / max(len(exp), len(act)), f"expected {exp}, got {act}"
    if match == "in_order":
        if not exp:
            return 1.0, "nothing expected"
        common = _lcs(exp, act)
        details = "in-order match" if common == len(exp) else (
            f"{common}/{len(exp)} expected steps found in order; expected {exp}, got {act}")
        return common / len(exp), details
    if match == "any_order":
        if not exp and not act:
            return 1.0, "both empty"
        common = sum((Counter(exp) & Counter(act)).values())
        score = common / max(len(exp), len(act))
        return score, ("same steps" if score == 1 else
                       f"expected {sorted(exp)} in any order, got {sorted(act)}")
    raise ValueError(f"unknown trajectory_match {match!r}; expected exact, in_order or any_order")


# --- actions ----------------------------------------------------------------------------

def normalize_action(action: Any) -> dict[str, Any]:
    """An action as ``{"kind", "payload"}``.

    Accepts ``{kind, payload, references?}`` (the plan action shape), the flat form
    ``{kind, **fields}`` or a pydantic model with a ``kind`` field.
    """
    data = _jsonable(action)
    if not isinstance(data, dict) or "kind" not in data:
        raise ValueError(f"an action must be a mapping with a 'kind'; got {action!r}")
    if "payload" in data and isinstance(data["payload"], dict):
        return {"kind": data["kind"], "payload": data["payload"]}
    payload = {k: v for k, v in data.items() if k not in ("kind", "references")}
    return {"kind": data["kind"], "payload": payload}


def _max_matching(edges: list[list[int]], n_right: int) -> int:
    """Size of a maximum bipartite matching (Kuhn's augmenting paths)."""
    owner = [-1] * n_right

    def augment(left: int, seen: set[int]) -> bool:
        for right in edges[left]:
            if right in seen:
                continue
            seen.add(right)
            if owner[right] == -1 or augment(owner[right], seen):
                owner[right] = left
                return True
        return False

    return sum(augment(left, set()) for left in range(len(edges)))


def score_actions(expected: ExpectedActions, actual: Sequence[Any]) -> tuple[float, str]:
    """Score actions, order-insensitive; returns ``(score, details)``.

    An expected action *fully matches* an actual one when the kinds are equal and the
    payload matches (``exact``: :func:`json_equal`; ``subset``: :func:`json_subset`).
    ``F`` = size of a maximum one-to-one matching of full matches; ``K`` = the number of
    further pairs that can be formed from the left-over actions with equal kinds only
    (counted per kind: ``min(left-over expected, left-over actual)``). Then::

        score = (F + 0.5 * K) / max(|expected|, |actual|)

    so a wrong payload earns half credit, and a missing or extra action costs. Both
    lists empty score 1.
    """
    exp = [{"kind": a.kind, "payload": a.payload} for a in expected.actions]
    act = [normalize_action(a) for a in actual]
    if not exp and not act:
        return 1.0, "no actions expected or produced"
    match = json_subset if expected.payload_match == "subset" else json_equal
    edges = [[j for j, a in enumerate(act) if e["kind"] == a["kind"]
              and match(e["payload"], a["payload"])] for e in exp]
    full = _max_matching(edges, len(act))
    kinds_exp = Counter(e["kind"] for e in exp)
    kinds_act = Counter(a["kind"] for a in act)
    kind_pairs = sum((kinds_exp & kinds_act).values())
    kind_only = kind_pairs - full
    score = (full + 0.5 * kind_only) / max(len(exp), len(act))
    details = (f"{full}/{len(exp)} expected actions matched"
               + (f", {kind_only} with a different payload" if kind_only else "")
               + (f", {len(act) - kind_pairs} unexpected" if len(act) > kind_pairs else "")
               + f"; actual kinds {[a['kind'] for a in act]}")
    return score, details


# --- final response ---------------------------------------------------------------------

def score_response(scorer: ResponseScorer, final_text: str,
                   verdict: JudgeVerdict | None = None) -> tuple[float, str]:
    """Score the final text with one :class:`ResponseScorer`; returns ``(score, details)``.

    exact/contains/regex score 1 or 0 (see :class:`ResponseScorer`). ``judge`` scores 1
    for a *yes* verdict, 0 for *no* or for a verdict carrying an ``error``; without a
    verdict it raises ValueError (offline scoring must supply ``judge_verdicts``).
    """
    text, value = final_text, scorer.value
    if scorer.kind == "judge":
        if verdict is None:
            raise ValueError(f"judge scorer {scorer.label!r} has no verdict for question "
                             f"{value!r}; pass it in RawSampleOutput.judge_verdicts")
        if verdict.error:
            return 0.0, f"judge error: {verdict.error}"
        return (1.0 if verdict.verdict else 0.0), (
            ("yes" if verdict.verdict else "no") + (f": {verdict.reason}" if verdict.reason
                                                     else ""))
    if scorer.ignore_case and scorer.kind != "regex":
        text, value = text.casefold(), value.casefold()
    if scorer.kind == "exact":
        ok = text.strip() == value.strip()
    elif scorer.kind == "contains":
        ok = value in text
    else:
        ok = re.search(value, text, re.IGNORECASE if scorer.ignore_case else 0) is not None
    return (1.0 if ok else 0.0), (f"{scorer.kind} {scorer.value!r}: "
                                  + ("ok" if ok else f"not satisfied by {_clip(final_text)!r}"))


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --- combining --------------------------------------------------------------------------

def _weight(name: str, group: str, own: float, weights: Mapping[str, float],
            preset: Mapping[str, float]) -> float:
    if name in weights:
        return weights[name]
    group_weight = weights.get(group, preset.get(group, 1.0))
    return group_weight * own


def combine(components: Sequence[ComponentScore]) -> tuple[float, tuple[str, ...]]:
    """The sample score from its components; returns ``(aggregate, gate_failures)``.

    ``aggregate = Σ wᵢ·sᵢ / Σ wᵢ`` (weighted mean). If every weight is 0 it is the
    plain mean; with no components it is 1 (nothing was asserted). If any ``required``
    component scored below 1 the aggregate is 0 and those names are the gate failures.
    """
    gates = tuple(c.name for c in components if c.required and c.score < 1)
    if gates:
        return 0.0, gates
    if not components:
        return 1.0, ()
    total = sum(c.weight for c in components)
    if total == 0:
        return sum(c.score for c in components) / len(components), ()
    return sum(c.weight * c.score for c in components) / total, ()


def score_sample(case: EvalTestCase, output: RawSampleOutput | Mapping[str, Any], *,
                 scorer_preset: str | None = None, config: EvalConfig | None = None,
                 ) -> ScoredSample:
    """Score one recorded sample output against a test case, with no runtime or model.

    Components: ``trajectory`` (when the case has ``expected_trajectory``; see
    :func:`score_trajectory`, matching per ``config.trajectory_match``), ``actions`` (when
    it has ``expected_actions``; :func:`score_actions`) and one per final-response scorer
    (:func:`score_response`, named by ``ResponseScorer.label``; duplicate names get
    ``#2``, ``#3``...).

    Weights: a component's weight is ``score_weights[name]`` if given; otherwise the group
    weight (``score_weights[group]``, else the preset's, else 1) times its own weight (the
    response scorer's ``weight``, 1 for trajectory/actions). Groups are ``trajectory``,
    ``actions`` and ``response``. ``scorer_preset`` (an agent role in
    :data:`SCORER_PRESETS`) overrides ``config.scorer_preset``. The aggregate is
    :func:`combine` of the components.
    """
    cfg = config or EvalConfig()
    out = output if isinstance(output, RawSampleOutput) else RawSampleOutput.model_validate(
        dict(output))
    preset_name = scorer_preset or cfg.scorer_preset
    if preset_name is not None and preset_name not in SCORER_PRESETS:
        raise ValueError(f"unknown scorer_preset {preset_name!r}; expected one of "
                         f"{sorted(SCORER_PRESETS)}")
    preset = SCORER_PRESETS.get(preset_name or "", {})
    weights = cfg.score_weights or {}
    comps: list[ComponentScore] = []
    if case.expected_trajectory is not None:
        score, details = score_trajectory(case.expected_trajectory, out.actual_trajectory,
                                          cfg.trajectory_match)
        comps.append(ComponentScore(name="trajectory", score=score, details=details,
                                    weight=_weight("trajectory", "trajectory", 1.0, weights,
                                                   preset)))
    if case.expected_actions is not None:
        score, details = score_actions(case.expected_actions, out.actual_actions)
        comps.append(ComponentScore(name="actions", score=score, details=details,
                                    weight=_weight("actions", "actions", 1.0, weights, preset)))
    seen: Counter[str] = Counter()
    for scorer in case.final_response or ():
        seen[scorer.label] += 1
        name = scorer.label if seen[scorer.label] == 1 else f"{scorer.label}#{seen[scorer.label]}"
        verdict = out.judge_verdicts.get(scorer.value) if scorer.kind == "judge" else None
        score, details = score_response(scorer, out.final_text, verdict)
        comps.append(ComponentScore(name=name, score=score, details=details,
                                    required=scorer.required,
                                    weight=_weight(name, "response", scorer.weight, weights,
                                                   preset)))
    aggregate, gates = combine(comps)
    return ScoredSample(aggregate=aggregate, component_scores=tuple(comps), gate_failures=gates)
