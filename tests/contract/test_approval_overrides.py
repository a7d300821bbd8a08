"""Reference §ApprovalOverrides (lines 306-315)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import flowai_nb as fa

from ._reference import assert_model_matches, cites
from .conftest import stock_level


@cites(307, "ApprovalOverrides(*, agents: dict[str, ApprovalPolicyPatch] = <factory>,")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.ApprovalOverrides, 307)


@cites(313, "Hierarchical approval overrides scoped by agent and tool.")
def test_overrides_scope_by_agent_then_tool() -> None:
    spec = fa.define_runtime(
        fa.define_tenant("a", "1"),
        agents=[fa.define_specialist("s", model="m", prompt="p", tools=[stock_level])],
        approval_overrides={"agents": {"s": {"tools": "always"}},
                            "tools": {"s": {"stock_level": "never"}}})
    assert spec.tool_policy("s", "stock_level").kind == "never"  # the tool override wins
    assert spec.approval_overrides.tools["s"]["stock_level"].kind == "never"


@cites(315, "same runtime spec; RuntimeSpec validation rejects unknown names.")
@pytest.mark.parametrize("overrides", [
    {"agents": {"ghost": {"plans": "never"}}}, {"tools": {"ghost": {"t": "always"}}}])
def test_unknown_agents_are_rejected(overrides) -> None:
    with pytest.raises(ValidationError, match="ghost"):
        fa.define_runtime(fa.define_tenant("a", "1"), approval_overrides=overrides)
