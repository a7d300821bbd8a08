"""Reference §RuntimeSpec (lines 231-246)."""

from __future__ import annotations

import flowai_nb as fa

from ._reference import assert_model_matches, cites
from .conftest import spec, stock_level


@cites(232, "RuntimeSpec(*, tenant: flowai_harness.tenant.TenantIdentity, agents:")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.RuntimeSpec, 232)


@cites(232, "toolBindings: tuple[flowai_harness.tools.ToolSpec, ...] = <factory>")
def test_collections_are_lists_and_tool_bindings_a_tuple() -> None:
    s = spec()
    for field in ("agents", "references", "plans", "toolkits"):
        assert isinstance(getattr(s, field), list), field
    assert isinstance(s.tool_bindings, tuple) and s.tool_bindings[0] is stock_level
    assert s.plans[0].name == "restock"
    assert isinstance(s.providers, dict)


@cites(246, "Canonical pure runtime specification consumed by flowai-runtime.")
def test_the_wire_form_round_trips() -> None:
    s = spec()
    again = fa.RuntimeSpec.model_validate(s.model_dump(by_alias=True))
    assert again == s
    assert set(s.model_dump(by_alias=True)) == {
        "tenant", "agents", "references", "plans", "toolkits", "approvalPolicies",
        "approvalOverrides", "storageFactories", "providers", "toolBindings"}
    from_json = fa.RuntimeSpec.model_validate_json(s.model_dump_json(by_alias=True))
    assert from_json == s
