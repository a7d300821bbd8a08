"""define_runtime: auto-attachment, tools tables, policy derivation and override collection."""

from __future__ import annotations

import flowai_nb as fa
from flowai_nb.authoring.runtime_spec import TOOLS_TABLE_MARKER


def test_plans_tools_and_toolkits_declared_on_agents_are_attached(full_spec) -> None:
    assert [p.name for p in full_spec.plans] == ["restock"]
    assert [t.name for t in full_spec.tool_bindings] == ["quote"]
    assert full_spec.tool("quote").handler is not None
    assert {k.id for k in full_spec.toolkits} == {"sql", "catalog"}
    assert full_spec.agent("planner").tools == (full_spec.tool("quote"),)
    assert full_spec.agent("executor").plan == full_spec.plan("restock")


def test_tools_table_is_merged_into_each_system_prompt(full_spec) -> None:
    planner = full_spec.agent("planner").system_prompt
    assert planner.startswith("Plan.\n\n" + TOOLS_TABLE_MARKER)
    assert "| store_plan | plan?, plan_id?, body | never |" in planner
    assert "| quote | sku, units | never | Price a restock |" in planner
    analyst = full_spec.agent("analyst").system_prompt
    for tool in ("list_tables", "describe_table", "search_catalog", "lookup_glossary"):
        assert f"| {tool} |" in analyst
    assert "| run_sql | sql, limit? | always |" in analyst
    router = full_spec.agent("router").system_prompt
    assert "| call_agent | agent, prompt | never |" in router
    assert "Agents you can call: planner, executor, analyst." in router


def test_tools_table_is_deterministic_and_not_duplicated(full_spec) -> None:
    again = fa.define_runtime(full_spec.tenant, agents=list(full_spec.agents))
    assert [a.system_prompt for a in again.agents] == [a.system_prompt for a in full_spec.agents]
    assert again.agent("planner").system_prompt.count(TOOLS_TABLE_MARKER) == 1


def test_default_policies_are_plans_always_tools_never() -> None:
    spec = fa.define_runtime(fa.define_tenant("a", "1"),
                             agents=[fa.define_coordinator("c", model="m", prompt="p")])
    assert spec.approval_policies == fa.ApprovalPolicies(plans="always", tools="never")


def test_coordinator_patch_is_applied_on_top_of_defaults() -> None:
    spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_coordinator("c", model="m", prompt="p", approval={"tools": "always"})])
    assert spec.approval_policies == fa.ApprovalPolicies(plans="always", tools="always")


def test_explicit_policies_win_over_the_coordinator_patch() -> None:
    spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_coordinator("c", model="m", prompt="p", approval={"tools": "always"})],
        approval_policies={"plans": "never", "tools": "never"})
    assert spec.approval_policies == fa.ApprovalPolicies(plans="never", tools="never")


def test_overrides_are_collected_from_agent_declarations() -> None:
    spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_coordinator("c", model="m", prompt="p", routes=["s", "x"]),
        fa.define_specialist("s", model="m", prompt="p", tool_approvals={"run_sql": "always"},
                             toolkits=["sql"]),
        fa.define_executor("x", model="m", prompt="p", approval={"plans": "never"}),
    ])
    assert spec.approval_overrides.tools == {"s": {"run_sql": fa.ApprovalPolicy(kind="always")}}
    assert spec.approval_overrides.agents == {"x": fa.ApprovalPolicyPatch(plans="never")}
    assert spec.tool_policy("s", "run_sql").kind == "always"
    assert spec.plan_policy("x").kind == "never"
    assert spec.plan_policy("c").kind == "always"


def test_policy_resolution_is_most_specific_first() -> None:
    @fa.define_tool("t", "a tool", {}, approval="always")
    def t(args, ctx):
        return None

    spec = fa.define_runtime(
        fa.define_tenant("a", "1"),
        agents=[fa.define_specialist("s", model="m", prompt="p", tools=[t],
                                     approval={"tools": "always"}),
                fa.define_specialist("u", model="m", prompt="p", tools=[t],
                                     tool_approvals={"t": "never"})],
        approval_overrides={"tools": {"s": {"t": "never"}}},
    )
    assert spec.tool_policy("s", "t").kind == "never"        # per-agent per-tool override
    assert spec.tool_policy("u", "t").kind == "never"        # the agent's tool policy
    assert spec.approval_policies.tools.kind == "never"      # the floor stays
