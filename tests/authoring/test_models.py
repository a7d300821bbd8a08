"""Spec models: frozen, camelCase on the wire, both spellings in, round-trips."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

import flowai_nb as fa


def test_every_reference_name_is_exported() -> None:
    for name in ["RuntimeSpec", "AgentSpec", "ModelSpec", "ToolkitSpec", "ApprovalPolicies",
                 "ApprovalPolicyPatch", "ApprovalOverrides", "StorageFactorySpec",
                 "StorageFactories", "TestingConfig", "DataEnvironmentConfig", "TenantIdentity",
                 "ToolSpec", "PlanSpec", "ReferenceSpec", "define_runtime", "create_runtime"]:
        assert getattr(fa, name) is not None, name


def test_models_are_frozen() -> None:
    agent = fa.AgentSpec(name="a", role="specialist", stateful=False, model="m", system_prompt="")
    with pytest.raises(ValidationError):
        agent.name = "b"  # type: ignore[misc]


def test_wire_form_is_camel_case_and_both_spellings_are_accepted() -> None:
    agent = fa.AgentSpec(name="a", role="planner", stateful=False, model="m", system_prompt="x",
                         max_turns=3, prompt_cache_key="k")
    wire = agent.model_dump(by_alias=True)
    assert {"systemPrompt", "maxTurns", "promptCacheKey", "toolApprovalPolicies",
            "approvalPolicies"} <= set(wire)
    assert "system_prompt" not in wire
    from_camel = fa.AgentSpec.model_validate({"name": "a", "role": "planner", "stateful": False,
                                              "model": "m", "systemPrompt": "x", "maxTurns": 3,
                                              "promptCacheKey": "k"})
    assert from_camel == agent


def test_plain_model_string_coerces_to_model_spec() -> None:
    agent = fa.AgentSpec(name="a", role="specialist", stateful=False, model="claude-sonnet",
                         system_prompt="")
    assert agent.model == fa.ModelSpec(id="claude-sonnet")
    assert agent.model.provider is None
    helper = fa.define_specialist("s", model="m-1", prompt="p")
    assert helper.model == fa.ModelSpec(id="m-1")


@pytest.mark.parametrize("given, wire", [
    ("never", {"kind": "never"}),
    ("always", {"kind": "always"}),
    ({"kind": "dynamic", "value": "big_order"}, {"kind": "dynamic", "value": "big_order"}),
])
def test_approval_policies_normalise_to_kind_mappings(given, wire) -> None:
    policies = fa.ApprovalPolicies(plans=given, tools="never")
    assert policies.model_dump(by_alias=True)["plans"] == wire


def test_bad_policy_names_the_value() -> None:
    with pytest.raises(ValidationError, match="sometimes"):
        fa.ApprovalPolicies(plans="sometimes")


def test_max_turns_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="max_turns|maxTurns"):
        fa.AgentSpec(name="a", role="specialist", max_turns=0)


def test_agent_name_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="name"):
        fa.AgentSpec(name="", role="specialist")


def test_unknown_role_is_rejected_naming_it() -> None:
    with pytest.raises(ValidationError, match="boss"):
        fa.AgentSpec(name="a", role="boss")


def test_runtime_spec_round_trips_through_json(full_spec: fa.RuntimeSpec) -> None:
    wire = json.loads(json.dumps(full_spec.model_dump(by_alias=True)))
    again = fa.RuntimeSpec.model_validate(wire)
    assert again == full_spec
    assert again.model_dump(mode="json", by_alias=True) == wire
    assert wire["approvalPolicies"] == {"plans": {"kind": "always"}, "tools": {"kind": "never"}}
    assert set(wire) == {"tenant", "agents", "references", "plans", "toolkits",
                         "approvalPolicies", "approvalOverrides", "storageFactories",
                         "providers", "toolBindings"}


def test_storage_factory_accepts_flat_and_nested_forms() -> None:
    nested = fa.StorageFactorySpec(kind="sqlite", config={"path": "kv.db"})
    flat = fa.StorageFactorySpec.model_validate({"kind": "sqlite", "path": "kv.db"})
    assert nested == flat
    with pytest.raises(ValidationError, match="path"):
        fa.StorageFactorySpec(kind="sqlite")
    with pytest.raises(ValidationError, match="url"):
        fa.StorageFactorySpec(kind="redis", config={"path": "x"})


def test_toolkit_spec_knows_the_built_in_toolkits() -> None:
    assert fa.ToolkitSpec.model_validate("sql") == fa.ToolkitSpec(id="sql")
    assert [row.name for row in fa.ToolkitSpec(id="sql").tools] == ["run_sql"]
    with pytest.raises(ValidationError, match="id"):
        fa.ToolkitSpec(id="")


def test_tenant_key_and_repr() -> None:
    tenant = fa.define_tenant("acme", 2, team="ops")
    assert tenant.key == "acme@2"
    assert tenant.meta == {"team": "ops"}
    assert repr(tenant) == "TenantIdentity('acme@2')"
    assert tenant.model_dump(by_alias=True) == {"resourceId": "acme", "version": "2",
                                                "meta": {"team": "ops"}}


def test_reprs_are_short_and_readable(full_spec: fa.RuntimeSpec) -> None:
    text = repr(full_spec)
    assert text.startswith("RuntimeSpec(tenant='acme@1'")
    assert "coordinator:router" in text and len(text) < 200
    assert repr(full_spec.agent("planner")).startswith("AgentSpec(planner 'planner'")
