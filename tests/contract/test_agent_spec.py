"""Reference §AgentSpec (lines 247-265)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import flowai_nb as fa

from ._reference import assert_model_matches, cites
from .conftest import PLAN, stock_level

BASE = {"name": "a", "role": "specialist", "stateful": False, "model": "m", "systemPrompt": "p"}


@cites(248, "AgentSpec(*, name: Annotated[str, MinLen(min_length=1)], role:")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.AgentSpec, 248)


@cites(248, "stateful: bool, model: ModelSpec, systemPrompt: str")
@pytest.mark.parametrize("missing", ["stateful", "model", "systemPrompt"])
def test_stateful_model_and_system_prompt_are_required(missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        fa.AgentSpec.model_validate({k: v for k, v in BASE.items() if k != missing})


@cites(248, "role: Literal['coordinator', 'planner', 'executor', 'specialist']")
def test_role_name_and_max_turns_are_checked() -> None:
    with pytest.raises(ValidationError, match="boss"):
        fa.AgentSpec.model_validate({**BASE, "role": "boss"})
    with pytest.raises(ValidationError, match="name"):
        fa.AgentSpec.model_validate({**BASE, "name": ""})
    with pytest.raises(ValidationError, match="maxTurns|max_turns"):
        fa.AgentSpec.model_validate({**BASE, "maxTurns": 0})
    assert fa.AgentSpec.model_validate({**BASE, "maxTurns": None}).max_turns is None


@cites(248, "plan: flowai_harness.plans.PlanSpec | None = None, tools:")
def test_tools_are_tool_specs_plan_a_plan_spec_toolkits_ids() -> None:
    agent = fa.AgentSpec.model_validate({**BASE, "tools": [stock_level], "plan": PLAN,
                                         "toolkits": ["kv"]})
    assert agent.tools == (stock_level,) and agent.tools[0].handler is not None
    assert agent.plan == PLAN
    assert agent.toolkits == ["kv"]
    wire = agent.model_dump(by_alias=True)
    assert wire["tools"][0]["name"] == "stock_level" and wire["plan"]["name"] == "restock"
    assert fa.AgentSpec.model_validate(wire) == agent


@cites(265, "Agent registration compiled by flowai-runtime into an orchestrator agent.")
def test_both_spellings_are_accepted() -> None:
    snake = fa.AgentSpec(name="a", role="planner", stateful=True, model="m", system_prompt="x",
                         max_turns=2, prompt_cache_key="k", tool_approval_policies={})
    camel = fa.AgentSpec.model_validate({"name": "a", "role": "planner", "stateful": True,
                                         "model": "m", "systemPrompt": "x", "maxTurns": 2,
                                         "promptCacheKey": "k", "toolApprovalPolicies": {}})
    assert snake == camel
