"""Eval specs: test cases, expected actions, response scorers, config and request.

All are frozen pydantic models (:class:`~flowai_nb.authoring._base.SpecModel`):
snake_case attributes, camelCase on the wire, both spellings accepted on input.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from flowai_nb.authoring._base import SpecModel
from flowai_nb.authoring.tenant import TenantIdentity

__all__ = [
    "ApprovalDecision",
    "EvalConfig",
    "EvalMode",
    "EvalRequest",
    "EvalTestCase",
    "ExpectedAction",
    "ExpectedActions",
    "ResponseScorer",
    "SCORER_PRESETS",
    "define_eval_config",
    "define_eval_request",
    "define_expected_action",
    "define_expected_actions",
    "define_test_case",
    "parse_eval_request",
]

EvalMode = Literal["planner", "executor", "sequential", "specialist"]
TrajectoryMatch = Literal["exact", "in_order", "any_order"]
AggregationStrategy = Literal["passRate", "meanScore", "passAtK", "minScore"]

#: Weights per scorer group (``trajectory``, ``actions``, ``response``) for each agent role.
#: A preset is chosen with ``scorer_preset=`` (config or :func:`score_sample`); explicit
#: ``score_weights`` win over it. ``response`` multiplies each response scorer's own weight.
SCORER_PRESETS: dict[str, dict[str, float]] = {
    "coordinator": {"trajectory": 2.0, "actions": 1.0, "response": 1.0},
    "planner": {"trajectory": 1.0, "actions": 3.0, "response": 0.5},
    "executor": {"trajectory": 2.0, "actions": 2.0, "response": 0.5},
    "specialist": {"trajectory": 1.0, "actions": 1.0, "response": 2.0},
}


class ExpectedAction(SpecModel):
    """One plan action a test case expects: its ``kind`` and (part of) its ``payload``.

    ``payload`` holds the action's fields other than ``kind`` and ``references``
    (the plan action shape of SPEC §7).
    """

    kind: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)


class ExpectedActions(SpecModel):
    """The actions a test case expects, and how payloads are compared.

    ``payload_match="exact"``: an actual payload must equal the expected one
    (JSON-semantic: key order and ``1`` vs ``1.0`` don't matter, ``true`` is not ``1``).
    ``payload_match="subset"``: the expected payload must be a deep subset of the
    actual one (every expected key present with a matching value; lists compared
    element-wise with equal length). Order of actions never matters; see
    :func:`flowai_nb.evals.scorers.score_actions` for the partial-credit formula.
    """

    actions: tuple[ExpectedAction, ...] = ()
    payload_match: Literal["exact", "subset"] = "exact"


class ResponseScorer(SpecModel):
    """A scorer of the sample's final text. Build one with the class methods.

    - ``exact(text)``: 1 when the final text equals ``text`` (both stripped of
      surrounding whitespace), else 0.
    - ``contains(text)``: 1 when ``text`` occurs in the final text, else 0.
    - ``regex(pattern)``: 1 when ``re.search(pattern, final_text)`` matches, else 0.
    - ``judge(question)``: 1 when a model answers *yes* to ``question`` about the
      final text, 0 on *no*, on an unparseable answer or on a judge error.

    ``ignore_case`` applies to exact/contains/regex. ``required=True`` makes the scorer
    a gate: if it scores below 1 the whole sample scores 0. ``weight`` is its weight
    in the sample's weighted mean. ``name`` defaults to ``response.<kind>``.
    """

    kind: Literal["exact", "contains", "regex", "judge"]
    value: str
    required: bool = False
    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    ignore_case: bool = False
    name: str | None = None

    @model_validator(mode="after")
    def _valid_pattern(self) -> ResponseScorer:
        if self.kind == "regex":
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r}: {exc}") from None
        return self

    @property
    def label(self) -> str:
        """The component name this scorer reports under."""
        return self.name or f"response.{self.kind}"

    @classmethod
    def exact(cls, text: str, *, required: bool = False, weight: float = 1.0,
              ignore_case: bool = False, name: str | None = None) -> ResponseScorer:
        """Final text must equal ``text`` (surrounding whitespace ignored)."""
        return cls(kind="exact", value=text, required=required, weight=weight,
                   ignore_case=ignore_case, name=name)

    @classmethod
    def contains(cls, text: str, *, required: bool = False, weight: float = 1.0,
                 ignore_case: bool = False, name: str | None = None) -> ResponseScorer:
        """Final text must contain ``text``."""
        return cls(kind="contains", value=text, required=required, weight=weight,
                   ignore_case=ignore_case, name=name)

    @classmethod
    def regex(cls, pattern: str, *, required: bool = False, weight: float = 1.0,
              ignore_case: bool = False, name: str | None = None) -> ResponseScorer:
        """``re.search(pattern, final_text)`` must match."""
        return cls(kind="regex", value=pattern, required=required, weight=weight,
                   ignore_case=ignore_case, name=name)

    @classmethod
    def judge(cls, question: str, *, required: bool = False, weight: float = 1.0,
              name: str | None = None) -> ResponseScorer:
        """A model must answer *yes* to ``question`` about the final text."""
        return cls(kind="judge", value=question, required=required, weight=weight, name=name)


class ApprovalDecision(SpecModel):
    """How an eval answers one approval gate: ``approve``, ``reject`` or ``revise``.

    A plain string is accepted wherever a decision is expected.
    """

    outcome: Literal["approve", "reject", "revise"]
    feedback: str | None = None
    partial: Any = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"outcome": data} if isinstance(data, str) else data

    def to_engine(self) -> str | dict[str, Any]:
        """The form the engine's ``approvals=`` list takes."""
        if self.feedback is None and self.partial is None:
            return self.outcome
        return {"outcome": self.outcome, "feedback": self.feedback, "partial": self.partial}


class EvalTestCase(SpecModel):
    """One test case: a prompt and what a good answer looks like.

    Attributes:
        id: unique within a request.
        prompt: the prompt given to the agent under test (for the scripted
            interpreter this may be a ``{"script": [...]}`` JSON string).
        expected_trajectory: tool names (or agent names, see
            ``EvalConfig.trajectory_kind``) the sample should go through.
        expected_actions: plan actions the sample should produce.
        final_response: scorers of the final text.
        tags: labels used by ``EvalConfig.tags_filter``.
        approvals: decisions given to approval gates in order (gates beyond the list are
            approved); ``None`` approves every gate.
    """

    id: str = Field(min_length=1)
    prompt: str
    expected_trajectory: tuple[str, ...] | None = None
    expected_actions: ExpectedActions | None = None
    final_response: tuple[ResponseScorer, ...] | None = None
    tags: tuple[str, ...] = ()
    approvals: tuple[ApprovalDecision, ...] | None = None

    @field_validator("expected_actions", mode="before")
    @classmethod
    def _lift_actions(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {"actions": list(value)}
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _one_tag(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class EvalConfig(SpecModel):
    """How an eval runs and scores. Build one with :func:`define_eval_config`.

    Attributes:
        mode: what each sample runs (see :mod:`flowai_nb.evals.runner`):
            ``sequential`` a full coordinator query, ``planner`` / ``executor`` /
            ``specialist`` one agent run directly.
        target_agent_id: the agent for ``planner``/``executor``/``specialist`` modes
            (required for ``specialist``; defaults to the spec's only planner/executor).
        samples_per_case: samples run per test case (each on a fresh thread).
        pass_threshold: a sample passes when its score >= this; the eval passes when
            the aggregate score >= this.
        concurrency: samples running at once.
        k_values: the k of pass@k (each <= samples_per_case); default ``(1, samples_per_case)``.
        timeout_per_sample_secs: a sample running longer is cancelled and scores 0 (``timeout``).
        tags_filter: run only cases carrying at least one of these tags.
        aggregation_strategy: how case results become ``aggregateScore``: ``passRate``
            (mean of case pass rates), ``meanScore`` (mean of case mean scores),
            ``passAtK`` (mean of case pass@k at the largest k), ``minScore`` (the worst
            case's mean score).
        score_weights: weights per component name (``trajectory``, ``actions``, a response
            scorer's name) or group (``response``); see :func:`~flowai_nb.evals.scorers.combine`.
        scorer_preset: a key of :data:`SCORER_PRESETS` (agent role) giving group weights.
        trajectory_match: ``exact`` (default), ``in_order`` (expected is an in-order
            subsequence) or ``any_order`` (same multiset).
        trajectory_kind: what a trajectory lists: ``tools`` (tool names called, in order)
            or ``agents`` (agents started, in order).
        judge_agent: agent name given to the interpreter for judge turns (scripted
            interpreters look up this name's script).
    """

    mode: EvalMode = "sequential"
    target_agent_id: str | None = None
    samples_per_case: int = Field(default=3, ge=1)
    pass_threshold: float = Field(default=0.7, ge=0, le=1)
    concurrency: int = Field(default=2, ge=1)
    k_values: tuple[int, ...] | None = None
    timeout_per_sample_secs: float = Field(default=120, gt=0)
    tags_filter: tuple[str, ...] | None = None
    aggregation_strategy: AggregationStrategy = "passRate"
    score_weights: dict[str, float] | None = None
    scorer_preset: str | None = None
    trajectory_match: TrajectoryMatch = "exact"
    trajectory_kind: Literal["tools", "agents"] = "tools"
    judge_agent: str = "judge"

    @field_validator("aggregation_strategy", mode="before")
    @classmethod
    def _camel_strategy(cls, value: Any) -> Any:
        aliases = {"pass_rate": "passRate", "mean_score": "meanScore",
                   "pass_at_k": "passAtK", "min_score": "minScore"}
        return aliases.get(value, value) if isinstance(value, str) else value

    @field_validator("tags_filter", mode="before")
    @classmethod
    def _one_tag(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("scorer_preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in SCORER_PRESETS:
            raise ValueError(f"unknown scorer_preset {value!r}; expected one of "
                             f"{sorted(SCORER_PRESETS)}")
        return value

    @field_validator("score_weights")
    @classmethod
    def _non_negative(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for key, weight in (value or {}).items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"score_weights[{key!r}] = {weight}; weights must be finite "
                                 "and >= 0")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EvalConfig:
        if self.mode == "specialist" and not self.target_agent_id:
            raise ValueError("mode 'specialist' needs target_agent_id (the specialist to run)")
        if self.k_values is not None and not self.k_values:
            raise ValueError("k_values is empty; give ks in 1..samples_per_case, or None for "
                             "(1, samples_per_case)")
        for k in self.k_values or ():
            if not 1 <= k <= self.samples_per_case:
                raise ValueError(f"k_values entry {k} is outside 1..samples_per_case "
                                 f"({self.samples_per_case})")
        return self

    @property
    def ks(self) -> tuple[int, ...]:
        """The k values pass@k is reported for (sorted, de-duplicated)."""
        return tuple(sorted(set(self.k_values or (1, self.samples_per_case))))


class EvalRequest(SpecModel):
    """A whole eval: test cases, a config, and optionally the tenant and a name.

    ``tenant`` (a :class:`TenantIdentity`, its key ``"id@version"`` or its resource id)
    must match the runtime's tenant when given. ``eval_run_id`` fixes the run id
    (default: a fresh id per run).
    """

    test_cases: tuple[EvalTestCase, ...] = Field(min_length=1)
    config: EvalConfig = Field(default_factory=EvalConfig)
    tenant: TenantIdentity | str | None = None
    name: str | None = None
    eval_run_id: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EvalRequest:
        seen: set[str] = set()
        for case in self.test_cases:
            if case.id in seen:
                raise ValueError(f"duplicate test case id {case.id!r}; ids must be unique")
            seen.add(case.id)
        known = {"trajectory", "actions", "response"}
        for case in self.test_cases:
            counts: dict[str, int] = {}
            for scorer in case.final_response or ():
                counts[scorer.label] = counts.get(scorer.label, 0) + 1
                n = counts[scorer.label]
                known.add(scorer.label if n == 1 else f"{scorer.label}#{n}")
        for key in self.config.score_weights or {}:
            if key not in known:
                raise ValueError(f"score_weights key {key!r} matches no scorer; known: "
                                 f"{sorted(known)}")
        return self

    def tenant_matches(self, tenant: TenantIdentity) -> bool:
        """Whether this request may run on a runtime of ``tenant``."""
        if self.tenant is None:
            return True
        if isinstance(self.tenant, TenantIdentity):
            return self.tenant.key == tenant.key
        return self.tenant in (tenant.key, tenant.resource_id)


def define_expected_action(kind: str, payload: Mapping[str, Any] | None = None,
                           **fields: Any) -> ExpectedAction:
    """One expected plan action: ``define_expected_action("restock", {"sku": "A1", "qty": 5})``.

    Keyword fields are merged into ``payload``.
    """
    return ExpectedAction(kind=kind, payload={**(payload or {}), **fields})


def define_expected_actions(actions: Iterable[ExpectedAction | Mapping[str, Any]], *,
                            payload_match: Literal["exact", "subset"] = "exact",
                            ) -> ExpectedActions:
    """Several expected actions (matched in any order) and the payload comparison."""
    return ExpectedActions(actions=tuple(actions), payload_match=payload_match)


def define_test_case(id: str, prompt: str, *, expected_trajectory: Iterable[str] | None = None,
                     expected_actions: ExpectedActions | Iterable[ExpectedAction] | None = None,
                     final_response: Iterable[ResponseScorer] | ResponseScorer | None = None,
                     tags: Iterable[str] = (),
                     approvals: Iterable[str | Mapping[str, Any] | ApprovalDecision] | None = None,
                     ) -> EvalTestCase:
    """Declare a test case (see :class:`EvalTestCase`)."""
    if isinstance(final_response, ResponseScorer):
        final_response = [final_response]
    return EvalTestCase(
        id=id, prompt=prompt,
        expected_trajectory=None if expected_trajectory is None else tuple(expected_trajectory),
        expected_actions=expected_actions if isinstance(expected_actions, ExpectedActions | None)
        else tuple(expected_actions),
        final_response=None if final_response is None else tuple(final_response),
        tags=tuple(tags) if not isinstance(tags, str) else (tags,),
        approvals=None if approvals is None else tuple(approvals),
    )


def define_eval_config(*, mode: EvalMode = "sequential", target_agent_id: str | None = None,
                       samples_per_case: int = 3, pass_threshold: float = 0.7,
                       concurrency: int = 2, k_values: Iterable[int] | None = None,
                       timeout_per_sample_secs: float = 120,
                       tags_filter: Iterable[str] | None = None,
                       aggregation_strategy: str = "passRate",
                       score_weights: Mapping[str, float] | None = None,
                       scorer_preset: str | None = None,
                       trajectory_match: TrajectoryMatch = "exact",
                       trajectory_kind: Literal["tools", "agents"] = "tools",
                       judge_agent: str = "judge") -> EvalConfig:
    """Declare how an eval runs and scores (see :class:`EvalConfig`)."""
    return EvalConfig(
        mode=mode, target_agent_id=target_agent_id, samples_per_case=samples_per_case,
        pass_threshold=pass_threshold, concurrency=concurrency,
        k_values=None if k_values is None else tuple(k_values),
        timeout_per_sample_secs=timeout_per_sample_secs,
        tags_filter=None if tags_filter is None else
        ((tags_filter,) if isinstance(tags_filter, str) else tuple(tags_filter)),
        aggregation_strategy=aggregation_strategy,
        score_weights=None if score_weights is None else dict(score_weights),
        scorer_preset=scorer_preset, trajectory_match=trajectory_match,
        trajectory_kind=trajectory_kind, judge_agent=judge_agent,
    )


def define_eval_request(test_cases: Iterable[EvalTestCase | Mapping[str, Any]],
                        config: EvalConfig | Mapping[str, Any] | None = None, *,
                        tenant: TenantIdentity | str | None = None, name: str | None = None,
                        eval_run_id: str | None = None) -> EvalRequest:
    """Bundle test cases and a config into an :class:`EvalRequest`."""
    return EvalRequest(test_cases=tuple(test_cases),
                       config=EvalConfig() if config is None else config,
                       tenant=tenant, name=name, eval_run_id=eval_run_id)


def parse_eval_request(request: EvalRequest | Mapping[str, Any] | str | bytes) -> EvalRequest:
    """Accept a request as a model, a mapping or a JSON string.

    Raises:
        ValueError: the input is not valid JSON, not an object, or does not
            validate (the message names the bad field).
    """
    if isinstance(request, EvalRequest):
        return request
    if isinstance(request, str | bytes):
        try:
            request = json.loads(request)
        except json.JSONDecodeError as exc:
            raise ValueError(f"eval request is not valid JSON: {exc}") from None
    if not isinstance(request, Mapping):
        raise ValueError("eval request must be an EvalRequest, a mapping or a JSON object "
                         f"string; got {type(request).__name__}")
    try:
        return EvalRequest.model_validate(dict(request))
    except ValidationError as exc:
        raise ValueError(f"invalid eval request: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "request"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
