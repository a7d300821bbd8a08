"""Reference §define_runtime (lines 188-230)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import PLAN, stock_level

TENANT = fa.define_tenant("acme", "1")


@cites(189, "define_runtime(tenant: 'TenantIdentity | Mapping[str, Any]', *, agents:")
def test_signature() -> None:
    assert_function_matches(fa.define_runtime, 189)


@cites(206, "tenant: TenantIdentity or mapping with resource_id and")
def test_tenant_may_be_a_mapping() -> None:
    spec = fa.define_runtime({"resource_id": "acme", "version": "1"})
    assert spec.tenant == TENANT


@cites(208, "agents: AgentSpec values or mappings validated as such.")
def test_agents_may_be_mappings() -> None:
    spec = fa.define_runtime(TENANT, agents=[
        {"name": "router", "role": "coordinator", "stateful": True, "model": "m",
         "systemPrompt": "Route."}])
    assert spec.agents[0].name == "router" and spec.agents[0].model == fa.ModelSpec(id="m")
    with pytest.raises(TypeError, match="agents"):
        fa.define_runtime(TENANT, agents=["router"])


@cites(209, "references: ReferenceSpec values or mappings.")
def test_references_are_a_list() -> None:
    spec = fa.define_runtime(TENANT, references=[
        fa.define_reference("slice", {"n": int}), {"name": "note", "schema": {}}])
    assert isinstance(spec.references, list)
    assert [r.name for r in spec.references] == ["slice", "note"]
    assert spec.references[0].name == "slice"


@cites(210, "plans: PlanSpec values or mappings. Plans attached to agents are")
def test_plans_attached_to_agents_are_appended() -> None:
    spec = fa.define_runtime(TENANT, agents=[
        fa.define_planner("planner", model="m", prompt="p", plan=PLAN)])
    assert spec.plans == [PLAN] and spec.agents[0].plan == PLAN


@cites(212, "toolkits: ToolkitSpec values or mappings. Toolkit ids referenced")
def test_toolkit_ids_referenced_by_agents_are_appended() -> None:
    spec = fa.define_runtime(TENANT, toolkits=[{"id": "kv"}], agents=[
        fa.define_specialist("s", model="m", prompt="p", toolkits=["sql", "kv"])])
    assert [k.id for k in spec.toolkits] == ["kv", "sql"]
    assert spec.agents[0].toolkits == ["sql", "kv"]


@cites(222, "tool_bindings: Runtime-level ToolSpec bindings. Agent-attached")
def test_agent_tools_are_appended_to_tool_bindings() -> None:
    @fa.define_tool("ping", "Ping", {})
    def ping(args, ctx):
        return "pong"

    spec = fa.define_runtime(TENANT, tool_bindings=[ping], agents=[
        fa.define_specialist("s", model="m", prompt="p", tools=[stock_level])])
    assert isinstance(spec.tool_bindings, tuple)
    assert [t.name for t in spec.tool_bindings] == ["ping", "stock_level"]


@cites(204, "toolkit/agent tool rows are merged into each agent's prompt.")
def test_tool_rows_are_merged_into_each_agent_prompt() -> None:
    spec = fa.define_runtime(TENANT, agents=[
        fa.define_specialist("s", model="m", prompt="Help.", tools=[stock_level],
                             toolkits=["kv"])])
    prompt = spec.agents[0].system_prompt
    assert prompt.startswith("Help.")
    for tool in ("kv_get", "kv_put", "kv_list", "stock_level"):
        assert f"| {tool} |" in prompt


@cites(214, "approval_policies: Runtime-wide approval floor. When omitted, it is")
def test_approval_policies_default_to_plans_always_tools_never_patched_by_the_coordinator(
) -> None:
    plain = fa.define_runtime(TENANT, agents=[
        fa.define_coordinator("c", model="m", prompt="p")])
    assert plain.approval_policies.model_dump(by_alias=True) == {
        "plans": {"kind": "always"}, "tools": {"kind": "never"}}
    patched = fa.define_runtime(TENANT, agents=[
        fa.define_coordinator("c", model="m", prompt="p", approval={"tools": "always"})])
    assert patched.approval_policies.model_dump(by_alias=True) == {
        "plans": {"kind": "always"}, "tools": {"kind": "always"}}


@cites(217, "approval_overrides: Per-agent/per-tool approval overrides. When")
def test_approval_overrides_are_collected_from_agents() -> None:
    spec = fa.define_runtime(TENANT, agents=[
        fa.define_specialist("s", model="m", prompt="p", tools=[stock_level],
                             approval={"plans": "never"},
                             tool_approvals={"stock_level": "always"})])
    wire = spec.approval_overrides.model_dump(by_alias=True)
    assert wire["agents"]["s"]["plans"] == {"kind": "never"}
    assert wire["tools"] == {"s": {"stock_level": {"kind": "always"}}}


@cites(225, "A frozen, validated RuntimeSpec.")
def test_returns_a_frozen_runtime_spec() -> None:
    spec = fa.define_runtime(TENANT)
    assert isinstance(spec, fa.RuntimeSpec)
    with pytest.raises(ValidationError):
        spec.providers = {}  # type: ignore[misc]


def _agents(*agents):
    return fa.define_runtime(TENANT, agents=list(agents))


@cites(227, "pydantic.ValidationError: On duplicate agent names, more than one")
def test_duplicate_agents_and_two_coordinators_are_validation_errors() -> None:
    with pytest.raises(ValidationError, match="duplicate agent name 's'"):
        _agents(fa.define_specialist("s", model="m", prompt="p"),
                fa.define_specialist("s", model="m", prompt="p"))
    with pytest.raises(ValidationError, match="more than one coordinator"):
        _agents(fa.define_coordinator("a", model="m", prompt="p"),
                fa.define_coordinator("b", model="m", prompt="p"))


@cites(228, "coordinator, unknown / duplicate / self-referencing routes,")
@pytest.mark.parametrize("routes, message", [
    (["ghost"], "unknown agent 'ghost'"), (["s", "s"], "duplicate route 's'"),
    (["c"], "routes to itself")])
def test_bad_routes_are_validation_errors(routes, message) -> None:
    with pytest.raises(ValidationError, match=message):
        _agents(fa.define_coordinator("c", model="m", prompt="p", routes=routes),
                fa.define_specialist("s", model="m", prompt="p"))


@cites(229, "approval overrides naming unknown agents, or more than one")
def test_overrides_naming_unknown_agents_are_validation_errors() -> None:
    with pytest.raises(ValidationError, match="ghost"):
        fa.define_runtime(TENANT, approval_overrides={"agents": {"ghost": {"plans": "never"}}})


@cites(230, "coordinator supplying approval_policies.")
def test_two_coordinators_supplying_policies_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="supplies approval policies"):
        _agents(fa.define_coordinator("a", model="m", prompt="p", approval={"plans": "never"}),
                fa.define_coordinator("b", model="m", prompt="p", approval={"plans": "always"}))
