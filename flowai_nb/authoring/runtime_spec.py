"""The runtime spec: every agent, tool, plan and policy of one runtime, as pure data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from ._base import SpecModel
from .agents import AgentSpec
from .approvals import (
    ApprovalOverrides,
    ApprovalPolicies,
    ApprovalPolicy,
    ApprovalPolicyPatch,
    resolve_plan_policy,
    resolve_tool_policy,
)
from .plans import PlanSpec
from .references import ReferenceSpec
from .storage import StorageFactories
from .tenant import TenantIdentity
from .toolkits import BUILTIN_TOOL_NAMES, ROLE_TOOLS, ToolkitSpec, ToolRow
from .tools import ToolSpec

__all__ = ["RuntimeSpec", "define_runtime", "agent_tool_rows", "TOOLS_TABLE_MARKER"]

TOOLS_TABLE_MARKER = "<!-- flowai:tools -->"


def _keyed(value: Any, what: str, key: str = "name") -> Any:
    """Accept a list of specs (or mappings) as well as a ``{name: spec}`` mapping."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value:
        name = item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
        if name is None:
            raise ValueError(f"{what} entries need a {key!r}; got {item!r}")
        if name in out and out[name] != item:
            raise ValueError(f"two different {what} are named {name!r}")
        out[name] = item
    return out


class RuntimeSpec(SpecModel):
    """Everything a runtime is made of, frozen and JSON-serialisable.

    ``RuntimeSpec.model_validate(spec.model_dump(by_alias=True))`` round-trips.
    Python handlers (tools, predicates, the dispatcher) are not part of the
    spec: they travel as bindings to :func:`flowai_nb.create_runtime`.
    """

    tenant: TenantIdentity
    agents: tuple[AgentSpec, ...] = ()
    references: dict[str, ReferenceSpec] = Field(default_factory=dict)
    plans: dict[str, PlanSpec] = Field(default_factory=dict)
    toolkits: tuple[ToolkitSpec, ...] = ()
    approval_policies: ApprovalPolicies = Field(default_factory=ApprovalPolicies)
    approval_overrides: ApprovalOverrides = Field(default_factory=ApprovalOverrides)
    storage_factories: StorageFactories = Field(default_factory=StorageFactories)
    providers: dict[str, Any] = Field(default_factory=dict)
    tool_bindings: dict[str, ToolSpec] = Field(default_factory=dict)

    @field_validator("references", "plans", "tool_bindings", mode="before")
    @classmethod
    def _by_name(cls, value: Any, info: Any) -> Any:
        return _keyed(value, info.field_name.replace("_", " "))

    @field_validator("toolkits", mode="before")
    @classmethod
    def _toolkits(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str | ToolkitSpec) else value

    @model_validator(mode="after")
    def _check(self) -> RuntimeSpec:
        names: set[str] = set()
        for agent in self.agents:
            if agent.name in names:
                raise ValueError(f"duplicate agent name {agent.name!r}: agent names must be unique")
            names.add(agent.name)
        coordinators = [a.name for a in self.agents if a.role == "coordinator"]
        if len(coordinators) > 1:
            raise ValueError(
                f"more than one coordinator: {coordinators}; a runtime has at most one")
        callable_tools: dict[str, list[str]] = {}
        for agent in self.agents:
            if agent.routes and agent.role != "coordinator":
                where = (f"the coordinator {coordinators[0]!r}" if coordinators
                         else "a coordinator (define_coordinator)")
                raise ValueError(
                    f"agent {agent.name!r} is a {agent.role} but has routes "
                    f"{list(agent.routes)}; only a coordinator can call other agents "
                    f"(call_agent): declare the routes on {where}"
                )
            seen: set[str] = set()
            for route in agent.routes:
                if route == agent.name:
                    raise ValueError(f"agent {agent.name!r} routes to itself")
                if route in seen:
                    raise ValueError(f"agent {agent.name!r} has a duplicate route {route!r}")
                if route not in names:
                    raise ValueError(
                        f"agent {agent.name!r} routes to unknown agent {route!r}; "
                        f"known agents: {sorted(names)}"
                    )
                seen.add(route)
            for tool in agent.tools:
                if tool not in self.tool_bindings:
                    raise ValueError(
                        f"agent {agent.name!r} uses tool {tool!r}, which is not declared; "
                        f"pass the ToolSpec in the agent's tools or in tool_bindings"
                    )
                if tool in BUILTIN_TOOL_NAMES:
                    raise ValueError(f"tool name {tool!r} of agent {agent.name!r} is reserved "
                                     f"for a built-in tool")
            tools = [row.name for row in agent_tool_rows(agent, self.tool_bindings)]
            callable_tools[agent.name] = tools
            _check_policy_tools(agent.name, _local(agent, agent.tool_approval_policies), tools,
                                "tool_approval_policies")
            if agent.plan is not None and agent.plan not in self.plans:
                raise ValueError(
                    f"agent {agent.name!r} uses plan {agent.plan!r}, which is not declared; "
                    f"known plans: {sorted(self.plans)}"
                )
        for name, tool in self.tool_bindings.items():
            if name != tool.name:
                raise ValueError(f"tool binding {name!r} holds a tool named {tool.name!r}")
        unknown = sorted(self.approval_overrides.named_agents() - names)
        if unknown:
            raise ValueError(
                f"approval overrides name unknown agent(s) {unknown}; known agents: {sorted(names)}"
            )
        for name, per_tool in self.approval_overrides.tools.items():
            _check_policy_tools(name, _local(self.agent(name), per_tool), callable_tools[name],
                                f"approval_overrides.tools[{name!r}]")
        return self

    def agent(self, name: str) -> AgentSpec:
        """The agent called ``name``; ``KeyError`` listing the known names otherwise."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(f"no agent named {name!r}; known agents: {[a.name for a in self.agents]}")

    def tool_policy(self, agent: str | AgentSpec, tool: str) -> ApprovalPolicy:
        """The effective approval policy for ``agent`` calling ``tool`` (see SPEC §6)."""
        spec = self.agent(agent) if isinstance(agent, str) else agent
        bound = self.tool_bindings.get(tool)
        return resolve_tool_policy(spec, tool, floor=self.approval_policies,
                                   overrides=self.approval_overrides,
                                   tool_policy=bound.approval if bound else None)

    def plan_policy(self, agent: str | AgentSpec) -> ApprovalPolicy:
        """The effective plans-channel policy inside ``agent``'s ``execute_plan``."""
        spec = self.agent(agent) if isinstance(agent, str) else agent
        return resolve_plan_policy(spec, floor=self.approval_policies,
                                   overrides=self.approval_overrides)

    @property
    def coordinator(self) -> AgentSpec | None:
        """The coordinator, if the runtime has one."""
        return next((a for a in self.agents if a.role == "coordinator"), None)

    def dynamic_predicate_ids(self) -> set[str]:
        """Every predicate id a dynamic policy anywhere in the spec refers to."""
        policies: list[ApprovalPolicy | None] = [
            self.approval_policies.plans, self.approval_policies.tools,
        ]
        patches = [a.approval_policies for a in self.agents]
        patches += list(self.approval_overrides.agents.values())
        for patch in patches:
            if patch is not None:
                policies += [patch.plans, patch.tools]
        for agent in self.agents:
            policies += list(agent.tool_approval_policies.values())
        for per_tool in self.approval_overrides.tools.values():
            policies += list(per_tool.values())
        policies += [tool.approval for tool in self.tool_bindings.values()]
        return {p.value for p in policies if p is not None and p.kind == "dynamic" and p.value}

    def __repr__(self) -> str:
        agents = ", ".join(f"{a.role}:{a.name}" for a in self.agents)
        return f"RuntimeSpec(tenant={self.tenant.key!r}, agents=[{agents}])"


def agent_tool_rows(agent: AgentSpec, tools: Mapping[str, ToolSpec],
                    toolkits: Iterable[ToolkitSpec] = ()) -> list[ToolRow]:
    """The tools an agent can call, in a fixed order: role built-ins, toolkits, own tools.

    ``toolkits`` are runtime-wide toolkits added to the agent's own.
    """
    rows: list[ToolRow] = list(ROLE_TOOLS[agent.role])
    seen = {r.name for r in rows}
    for kit in (*agent.toolkits, *toolkits):
        for row in kit.tools:
            if row.name not in seen:
                rows.append(row)
                seen.add(row.name)
    for name in agent.tools:
        tool = tools[name]
        if name not in seen:
            rows.append(ToolRow(name=name, description=tool.description,
                                input_schema=tool.input_schema))
            seen.add(name)
    return rows


def _local(agent: AgentSpec, policies: Mapping[str, Any]) -> Mapping[str, Any]:
    """Per-tool policies minus those naming an external toolkit's tool (``kit.tool``), whose
    tools are only known at run time."""
    external = {kit.id for kit in agent.toolkits if kit.external}
    return {k: v for k, v in policies.items() if k.partition(".")[0] not in external}


def _check_policy_tools(agent: str, policies: Mapping[str, Any], tools: list[str],
                        where: str) -> None:
    """Reject per-tool approval policies for tools ``agent`` cannot call (likely typos)."""
    unknown = sorted(set(policies) - set(tools))
    if unknown:
        raise ValueError(
            f"{where} sets a policy for tool(s) {unknown} that agent {agent!r} cannot call; "
            f"tools it can call: {tools}"
        )


def _policy_text(policy: ApprovalPolicy) -> str:
    return f"dynamic ({policy.value})" if policy.kind == "dynamic" else policy.kind


def _tools_table(agent: AgentSpec, rows: list[ToolRow], tools: Mapping[str, ToolSpec],
                 floor: ApprovalPolicies, overrides: ApprovalOverrides) -> str:
    lines = [TOOLS_TABLE_MARKER, "## Tools", "", "| tool | arguments | approval | description |",
             "|---|---|---|---|"]
    for row in rows:
        props = row.input_schema.get("properties", {}) or {}
        required = set(row.input_schema.get("required", []) or [])
        args = ", ".join(f"{k}{'' if k in required else '?'}" for k in props) or "-"
        bound = tools.get(row.name)
        policy = resolve_tool_policy(agent, row.name, floor=floor, overrides=overrides,
                                     tool_policy=bound.approval if bound else None)
        desc = " ".join(row.description.split()).replace("|", "\\|")
        lines.append(f"| {row.name} | {args} | {_policy_text(policy)} | {desc} |")
    if agent.role == "coordinator" and agent.routes:
        lines += ["", "Agents you can call: " + ", ".join(agent.routes) + "."]
    return "\n".join(lines)


def _with_table(agent: AgentSpec, table: str) -> AgentSpec:
    prompt = agent.system_prompt.split(TOOLS_TABLE_MARKER)[0].rstrip()
    merged = f"{prompt}\n\n{table}" if prompt else table
    new = agent.model_copy(update={"system_prompt": merged})
    new._declared_tools = agent._declared_tools
    new._declared_plan = agent._declared_plan
    return new


def _fail(loc: str, message: str, **context: Any) -> None:
    """Raise a pydantic ValidationError, like every other ``define_runtime`` error."""
    from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

    detail = InitErrorDetails(type=PydanticCustomError("runtime_spec", message, context),
                              loc=(loc,), input=context)
    raise ValidationError.from_exception_data("RuntimeSpec", [detail])


def define_runtime(
    tenant: TenantIdentity,
    *,
    agents: Iterable[AgentSpec] | None = None,
    references: Iterable[ReferenceSpec] | Mapping[str, ReferenceSpec] | None = None,
    plans: Iterable[PlanSpec] | Mapping[str, PlanSpec] | None = None,
    toolkits: Iterable[ToolkitSpec | str] | None = None,
    approval_policies: ApprovalPolicies | Mapping[str, Any] | None = None,
    approval_overrides: ApprovalOverrides | Mapping[str, Any] | None = None,
    storage_factories: StorageFactories | Mapping[str, Any] | None = None,
    providers: Mapping[str, Any] | None = None,
    tool_bindings: Iterable[ToolSpec] | Mapping[str, ToolSpec] | None = None,
) -> RuntimeSpec:
    """Assemble and validate a :class:`RuntimeSpec`.

    - Plans, toolkits and tool specs declared on agents are attached
      automatically.
    - Each agent's system prompt gets a deterministic tools table (role
      built-ins, toolkits, own tools, with their approval policies).
    - ``approval_policies`` defaults to plans ``always`` / tools ``never``
      with the coordinator's own approval patch applied on top.
    - ``approval_overrides`` defaults to what each agent declares (its
      approval patch and per-tool policies).

    Raises:
        pydantic.ValidationError: duplicate agents, more than one coordinator,
            bad routes (or routes on a non-coordinator), overrides naming unknown
            agents, per-tool approval policies naming a tool the agent cannot
            call, more than one coordinator supplying approval policies,
            undeclared tools or plans.
    """
    agent_list = list(agents or [])
    plan_map = dict(_keyed(plans, "plans"))
    tool_map = dict(_keyed(tool_bindings, "tools"))
    kit_list = [ToolkitSpec.model_validate(k) if not isinstance(k, ToolkitSpec) else k
                for k in (toolkits or [])]
    kit_ids = {k.id for k in kit_list}
    for agent in agent_list:
        if not isinstance(agent, AgentSpec):
            raise TypeError(f"agents must be AgentSpec values (use define_<role>); got {agent!r}")
        if agent.declared_plan is not None:
            plan_map.setdefault(agent.declared_plan.name, agent.declared_plan)
        for name, tool in agent.declared_tools.items():
            existing = tool_map.get(name)
            if existing is None or (existing.handler is None and tool.handler is not None):
                tool_map[name] = tool
        for kit in agent.toolkits:
            if kit.id not in kit_ids:
                kit_list.append(kit)
                kit_ids.add(kit.id)

    supplying = [a.name for a in agent_list
                 if a.role == "coordinator" and a.approval_policies is not None]
    if len(supplying) > 1:
        _fail("agents", "more than one coordinator supplies approval policies: {names}; "
              "only one coordinator may set the runtime's policies", names=supplying)
    if approval_policies is None:
        policies = ApprovalPolicies()
        coordinator = next((a for a in agent_list if a.role == "coordinator"), None)
        if len(supplying) <= 1 and coordinator is not None:
            policies = policies.patched(coordinator.approval_policies)
    else:
        policies = ApprovalPolicies.model_validate(approval_policies)

    if approval_overrides is None:
        by_agent: dict[str, ApprovalPolicyPatch] = {}
        by_tool: dict[str, dict[str, ApprovalPolicy]] = {}
        for agent in agent_list:
            if agent.approval_policies is not None and agent.role != "coordinator":
                by_agent[agent.name] = agent.approval_policies
            if agent.tool_approval_policies:
                by_tool[agent.name] = dict(agent.tool_approval_policies)
        overrides = ApprovalOverrides(agents=by_agent, tools=by_tool)
    else:
        overrides = ApprovalOverrides.model_validate(approval_overrides)

    # Tables are rendered only for agents whose tools all resolve; RuntimeSpec
    # reports the rest with a precise message.
    rendered = []
    for agent in agent_list:
        if all(t in tool_map for t in agent.tools):
            rows = agent_tool_rows(agent, tool_map)
            rendered.append(_with_table(
                agent, _tools_table(agent, rows, tool_map, policies, overrides)))
        else:
            rendered.append(agent)

    spec = RuntimeSpec.model_validate({
        "tenant": tenant,
        "agents": tuple(rendered),
        "references": references,
        "plans": plan_map,
        "toolkits": tuple(kit_list),
        "approval_policies": policies,
        "approval_overrides": overrides,
        "storage_factories": storage_factories or StorageFactories(),
        "providers": dict(providers or {}),
        "tool_bindings": tool_map,
    })
    return spec
