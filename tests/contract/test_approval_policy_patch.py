"""Reference §ApprovalPolicyPatch (lines 295-305)."""

from __future__ import annotations

import flowai_nb as fa

from ._reference import assert_model_matches, cites
from .conftest import stock_level


@cites(296, "ApprovalPolicyPatch(*, plans: dict[str, typing.Any] | None = None, tools:")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.ApprovalPolicyPatch, 296)


@cites(303, "Missing channels inherit from the runtime-level approval policy. Each")
def test_missing_channels_inherit_from_the_runtime_floor() -> None:
    spec = fa.define_runtime(
        fa.define_tenant("a", "1"), approval_policies={"plans": "always", "tools": "always"},
        agents=[fa.define_specialist("s", model="m", prompt="p", tools=[stock_level],
                                     approval=fa.ApprovalPolicyPatch(tools="never"))])
    assert spec.tool_policy("s", "stock_level").kind == "never"
    assert spec.plan_policy("s").kind == "always"  # inherited
    empty = fa.ApprovalPolicyPatch()
    assert empty.plans is None and empty.tools is None
