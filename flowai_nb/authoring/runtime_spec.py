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
from .secrets import hide_secrets
from .storage import StorageFactories
from .tenant import TenantIdentity
from .toolkits import (
    BUILTIN_TOOL_NAMES,
    ROLE_TOOLS,
    ToolkitSpec,
    ToolRow,
    known_toolkit_ids,
    toolkit_tools,
)
from .tools import ToolSpec

__all__ = ["RuntimeSpec", "define_runtime", "agent_tool_rows", "TOOLS_TABLE_MARKER"]

TOOLS_TABLE_MARKER = "<!-- flowai:tools -->"


def _listed(value: Any, what: str) -> Any:
    """A list of specs; a ``{name: spec}`` mapping is accepted too and gives its values."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a list of specs; got {type(value).__name__}: {value!r}")
    return list(value)


def _named(items: Iterable[Any], what: str, key: str = "name") -> dict[str, Any]:
    """``{name: item}``; two *different* items under one name raise ``ValueError``."""
    out: dict[str, Any] = {}
    for item in items:
        name = getattr(item, key)
        if name in out and out[name] != item:
            raise ValueError(f"two different {what} are named {name!r}")
        out.setdefault(name, item)
    return out


class RuntimeSpec(SpecModel):
    """Canonical pure runtime specification: every agent, tool, plan and policy of one runtime.

    Frozen and JSON-serialisable: ``RuntimeSpec.model_validate(spec.model_dump(
    by_alias=True))`` round-trips. Python handlers (tools, predicates, the
    dispatcher) are not part of the wire form: they travel as bindings to
    :func:`flowai_nb.create_runtime`.

    ``references``, ``plans``, ``agents`` and ``toolkits`` are lists,
    ``toolBindings`` a tuple, as in the reference; look items up by name with
    :meth:`agent`, :meth:`tool`, :meth:`plan`, :meth:`reference` or the
    ``*_by_name`` properties. A ``{name: spec}`` mapping is accepted on input
    for ``references``, ``plans`` and ``toolBindings`` too.

    API keys and passwords in ``providers`` are ``SecretStr`` values (they dump
    as ``**********``); a spec that must carry a key to another process names an
    environment variable: ``{"anthropic": {"apiKeyEnv": "ANTHROPIC_API_KEY"}}``.

    Kept deviation: only a coordinator may declare ``routes`` (the reference
    only says unknown, duplicate and self routes are errors).
    """

    tenant: TenantIdentity
    agents: list[AgentSpec] = Field(default_factory=list)
    references: list[ReferenceSpec] = Field(default_factory=list)
    plans: list[PlanSpec] = Field(default_factory=list)
    toolkits: list[ToolkitSpec] = Field(default_factory=list)
    approval_policies: ApprovalPolicies = Field(default_factory=ApprovalPolicies)
    approval_overrides: ApprovalOverrides = Field(default_factory=ApprovalOverrides)
    storage_factories: StorageFactories = Field(default_factory=StorageFactories)
    providers: dict[str, Any] = Field(default_factory=dict)
    tool_bindings: tuple[ToolSpec, ...] = ()

    @field_validator("references", "plans", "tool_bindings", mode="before")
    @classmethod
    def _as_list(cls, value: Any, info: Any) -> Any:
        return _listed(value, info.field_name)

    @field_validator("toolkits", mode="before")
    @classmethod
    def _toolkits(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | ToolkitSpec) else value

    @field_validator("providers")
    @classmethod
    def _secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        # API keys and passwords become SecretStr: dumps, reprs and traces show **********.
        return hide_secrets(value)

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
        tools = _named(self._all_tools(), "tools")
        _named(self._all_plans(), "plans")
        _named(self.references, "references")
        _named(self.toolkits, "toolkits", key="id")
        for name in tools:
            if name in BUILTIN_TOOL_NAMES:
                raise ValueError(f"tool name {name!r} is reserved for a built-in tool")
        callable_tools: dict[str, list[str] | None] = {}
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
            for tool in agent._tool_names:
                raise ValueError(
                    f"agent {agent.name!r} uses tool {tool!r}, which is not declared; "
                    f"pass the ToolSpec in the agent's tools or in tool_bindings"
                )
            if agent._plan_name is not None:
                raise ValueError(
                    f"agent {agent.name!r} uses plan {agent._plan_name!r}, which is not "
                    f"declared; known plans: {sorted(self.plans_by_name)}"
                )
            rows = self.tool_rows(agent)
            known = all(self._kit_rows_known(kit) for kit in agent.toolkits)
            callable_tools[agent.name] = [row.name for row in rows] if known else None
            _check_policy_tools(agent.name, _local(agent, agent.tool_approval_policies, self),
                                callable_tools[agent.name], "tool_approval_policies")
        unknown = sorted(self.approval_overrides.named_agents() - names)
        if unknown:
            raise ValueError(
                f"approval overrides name unknown agent(s) {unknown}; known agents: {sorted(names)}"
            )
        for name, per_tool in self.approval_overrides.tools.items():
            _check_policy_tools(name, _local(self.agent(name), per_tool, self),
                                callable_tools[name], f"approval_overrides.tools[{name!r}]")
        return self

    # -- lookups ---------------------------------------------------------------------------
    def _all_tools(self) -> list[ToolSpec]:
        return [*self.tool_bindings, *(t for a in self.agents for t in a.tools)]

    def _all_plans(self) -> list[PlanSpec]:
        return [*self.plans, *(a.plan for a in self.agents if a.plan is not None)]

    @property
    def tools_by_name(self) -> dict[str, ToolSpec]:
        """Every tool of the spec (``toolBindings`` and agents' tools) by name.

        Where one name appears bound and unbound, the bound ToolSpec wins.
        """
        out: dict[str, ToolSpec] = {}
        for tool in self._all_tools():
            if tool.name not in out or (out[tool.name].handler is None and tool.handler):
                out[tool.name] = tool
        return out

    @property
    def plans_by_name(self) -> dict[str, PlanSpec]:
        """Every plan of the spec (``plans`` and agents' plans) by name."""
        return _named(self._all_plans(), "plans")

    @property
    def references_by_name(self) -> dict[str, ReferenceSpec]:
        """The reference kinds by name."""
        return {ref.name: ref for ref in self.references}

    def agent(self, name: str) -> AgentSpec:
        """The agent called ``name``; ``KeyError`` listing the known names otherwise."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(f"no agent named {name!r}; known agents: {[a.name for a in self.agents]}")

    def tool(self, name: str) -> ToolSpec:
        """The tool called ``name``; ``KeyError`` listing the known names otherwise."""
        tools = self.tools_by_name
        if name not in tools:
            raise KeyError(f"no tool named {name!r}; known tools: {sorted(tools)}")
        return tools[name]

    def plan(self, name: str) -> PlanSpec:
        """The plan called ``name``; ``KeyError`` listing the known names otherwise."""
        plans = self.plans_by_name
        if name not in plans:
            raise KeyError(f"no plan named {name!r}; known plans: {sorted(plans)}")
        return plans[name]

    def reference(self, name: str) -> ReferenceSpec:
        """The reference kind called ``name``; ``KeyError`` listing the known names otherwise."""
        refs = self.references_by_name
        if name not in refs:
            raise KeyError(f"no reference kind {name!r}; known kinds: {sorted(refs)}")
        return refs[name]

    def toolkit(self, toolkit_id: str) -> ToolkitSpec:
        """The runtime-level ToolkitSpec with this id (``ToolkitSpec(id)`` when not listed)."""
        return next((k for k in self.toolkits if k.id == toolkit_id), None) or ToolkitSpec(
            id=toolkit_id)

    def _kit_rows_known(self, toolkit_id: str) -> bool:
        """Whether the toolkit's tool names are known now (external MCP toolkits' dotted
        policy names are filtered separately by ``_local``)."""
        spec = self.toolkit(toolkit_id)
        if spec.external:
            return True
        return spec.provider_key() is None and toolkit_id in known_toolkit_ids()

    def tool_rows(self, agent: AgentSpec,
                  toolkit_rows: Mapping[str, Iterable[ToolRow]] | None = None) -> list[ToolRow]:
        """The tools ``agent`` can call (see :func:`agent_tool_rows`); ``toolkit_rows``
        overrides the rows of toolkits resolved at run time (e.g. provider-served)."""
        rows = {kit: self.toolkit(kit).tools for kit in agent.toolkits}
        return agent_tool_rows(agent, {**rows, **(toolkit_rows or {})})

    def _tool_spec(self, agent: AgentSpec, tool: str) -> ToolSpec | None:
        own = self.tools_by_name.get(tool)
        if own is not None:
            return own
        for kit in agent.toolkits:
            for spec in toolkit_tools(self.toolkit(kit)):
                if spec.name == tool:
                    return spec
        return None

    def tool_policy(self, agent: str | AgentSpec, tool: str) -> ApprovalPolicy:
        """The effective approval policy for ``agent`` calling ``tool`` (see SPEC §6)."""
        spec = self.agent(agent) if isinstance(agent, str) else agent
        bound = self._tool_spec(spec, tool)
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
        policies += [tool.approval for tool in self.tools_by_name.values()]
        return {p.value for p in policies if p is not None and p.kind == "dynamic" and p.value}

    def __repr__(self) -> str:
        agents = ", ".join(f"{a.role}:{a.name}" for a in self.agents)
        return f"RuntimeSpec(tenant={self.tenant.key!r}, agents=[{agents}])"


def agent_tool_rows(agent: AgentSpec,
                    toolkit_rows: Mapping[str, Iterable[ToolRow]] | None = None) -> list[ToolRow]:
    """The tools an agent can call, in a fixed order: role built-ins, toolkits, own tools.

    ``toolkit_rows`` gives the rows of each toolkit id; ids missing from it use
    what is known without a runtime (built-in and :func:`define_toolkit` toolkits).
    """
    rows: list[ToolRow] = list(ROLE_TOOLS[agent.role])
    seen = {r.name for r in rows}
    for kit in agent.toolkits:
        kit_rows = (toolkit_rows or {}).get(kit)
        for row in ToolkitSpec(id=kit).tools if kit_rows is None else kit_rows:
            if row.name not in seen:
                rows.append(row)
                seen.add(row.name)
    for tool in agent.tools:
        if tool.name not in seen:
            rows.append(ToolRow(name=tool.name, description=tool.description,
                                input_schema=tool.input_schema))
            seen.add(tool.name)
    return rows


def _local(agent: AgentSpec, policies: Mapping[str, Any], spec: RuntimeSpec) -> Mapping[str, Any]:
    """Per-tool policies minus those naming an external MCP toolkit's tool (``kit.tool``),
    whose tools are only known at run time."""
    external = {kit for kit in agent.toolkits if spec.toolkit(kit).external}
    return {k: v for k, v in policies.items() if k.partition(".")[0] not in external}


def _check_policy_tools(agent: str, policies: Mapping[str, Any], tools: list[str] | None,
                        where: str) -> None:
    """Reject per-tool approval policies for tools ``agent`` cannot call (likely typos).

    ``tools`` is ``None`` when the agent uses a toolkit whose tools are only
    known at run time (a provider-served one): then nothing can be checked here.
    """
    if tools is None:
        return
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
    """The markdown tools table merged into ``agent``'s system prompt."""
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
    return agent.model_copy(update={"system_prompt": merged})


def _fail(loc: str, message: str, **context: Any) -> None:
    """Raise a pydantic ValidationError, like every other ``define_runtime`` error."""
    from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

    detail = InitErrorDetails(type=PydanticCustomError("runtime_spec", message, context),
                              loc=(loc,), input=context)
    raise ValidationError.from_exception_data("RuntimeSpec", [detail])


def _spec_list(value: Any, model: type[Any], what: str) -> list[Any]:
    """Each item as ``model``: instances kept, mappings validated, anything else TypeError."""
    out = []
    for item in _listed(value, what):
        if isinstance(item, model):
            out.append(item)
        elif isinstance(item, Mapping) or (model is ToolkitSpec and isinstance(item, str)):
            out.append(model.model_validate(item))
        else:
            raise TypeError(f"{what} must be {model.__name__} values or mappings; "
                            f"got {type(item).__name__}: {item!r}")
    return out


def _resolve_names(agent: AgentSpec, tools: Mapping[str, ToolSpec],
                   plans: Mapping[str, PlanSpec]) -> AgentSpec:
    """Replace the tool / plan *names* given to ``define_<role>`` by their specs.

    Names that resolve to nothing stay pending; :class:`RuntimeSpec` reports them.
    """
    if not agent._tool_names and agent._plan_name is None:
        return agent
    found = [tools[n] for n in agent._tool_names if n in tools]
    update: dict[str, Any] = {"tools": (*agent.tools, *found)}
    if agent._plan_name in plans:
        update["plan"] = plans[agent._plan_name]
    new = agent.model_copy(update=update)
    new._tool_names = tuple(n for n in agent._tool_names if n not in tools)
    new._plan_name = agent._plan_name if agent._plan_name not in plans else None
    return new


def define_runtime(
    tenant: TenantIdentity | Mapping[str, Any],
    *,
    agents: list[AgentSpec | Mapping[str, Any]] | None = None,
    references: list[ReferenceSpec | Mapping[str, Any]] | None = None,
    plans: list[PlanSpec | Mapping[str, Any]] | None = None,
    toolkits: list[ToolkitSpec | Mapping[str, Any]] | None = None,
    approval_policies: ApprovalPolicies | Mapping[str, Any] | None = None,
    approval_overrides: ApprovalOverrides | Mapping[str, Any] | None = None,
    storage_factories: StorageFactories | Mapping[str, Any] | None = None,
    providers: Mapping[str, Any] | None = None,
    tool_bindings: list[ToolSpec] | None = None,
) -> RuntimeSpec:
    """Create a validated :class:`RuntimeSpec`.

    - Plans, toolkits and tool specs declared on agents are attached
      automatically (appended when not listed).
    - Each agent's system prompt gets a deterministic tools table (role
      built-ins, toolkits, own tools, with their approval policies).
    - ``approval_policies`` defaults to plans ``always`` / tools ``never``
      with the coordinator's own approval patch applied on top.
    - ``approval_overrides`` defaults to what each agent declares (its
      approval patch and per-tool policies).

    Args:
        tenant: a :class:`TenantIdentity` or a mapping with ``resource_id`` and ``version``.
        agents: AgentSpec values (``define_<role>``) or mappings validated as such.
        references: ReferenceSpec values or mappings.
        plans: PlanSpec values or mappings.
        toolkits: ToolkitSpec values, mappings or ids (with their ``config``).
        approval_policies: the runtime-wide approval floor.
        approval_overrides: per-agent / per-tool approval overrides.
        storage_factories: the stores behind kv, plans and memory.
        providers: provider configuration keyed by provider name.
        tool_bindings: runtime-level ToolSpec values (agents' tools are appended).

    Returns:
        A frozen, validated RuntimeSpec.

    Raises:
        pydantic.ValidationError: duplicate agents, more than one coordinator,
            bad routes (or routes on a non-coordinator), overrides naming unknown
            agents, per-tool approval policies naming a tool the agent cannot
            call, more than one coordinator supplying approval policies,
            undeclared tool or plan names, two different tools or plans under one name.
        TypeError: an argument of the wrong type (e.g. ``tool_bindings=5``).
    """
    agent_list = _spec_list(agents, AgentSpec, "agents")
    plan_list = _spec_list(plans, PlanSpec, "plans")
    tool_list = _spec_list(tool_bindings, ToolSpec, "tool_bindings")
    kit_list = _spec_list(toolkits, ToolkitSpec, "toolkits")
    if providers is not None and not isinstance(providers, Mapping):
        raise TypeError(f"providers must be a mapping keyed by provider name; "
                        f"got {type(providers).__name__}")
    tool_map = {t.name: t for t in tool_list}
    plan_map = {p.name: p for p in plan_list}
    for agent in agent_list:
        for tool in agent.tools:
            tool_map.setdefault(tool.name, tool)
        if agent.plan is not None:
            plan_map.setdefault(agent.plan.name, agent.plan)
    agent_list = [_resolve_names(agent, tool_map, plan_map) for agent in agent_list]

    listed_plans = {p.name for p in plan_list}
    listed_tools = {t.name for t in tool_list}
    kit_ids = {k.id for k in kit_list}
    for agent in agent_list:
        if agent.plan is not None and agent.plan.name not in listed_plans:
            plan_list.append(agent.plan)
            listed_plans.add(agent.plan.name)
        for tool in agent.tools:
            if tool.name not in listed_tools:
                tool_list.append(tool)
                listed_tools.add(tool.name)
        declared = {k.id: k for k in agent.declared_toolkits}
        for kit_id in agent.toolkits:
            if kit_id not in kit_ids:
                kit_list.append(declared.get(kit_id) or ToolkitSpec(id=kit_id))
                kit_ids.add(kit_id)

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

    # Tables are rendered only for agents whose names all resolved; RuntimeSpec
    # reports the rest with a precise message.
    all_tools = {t.name: t for t in tool_list}
    kit_by_id = {k.id: k for k in kit_list}
    rendered = []
    for agent in agent_list:
        if agent._tool_names or agent._plan_name is not None:
            rendered.append(agent)
            continue
        rows = agent_tool_rows(agent, {k: kit_by_id[k].tools for k in agent.toolkits})
        kit_tools = {t.name: t for k in agent.toolkits for t in toolkit_tools(kit_by_id[k])}
        rendered.append(_with_table(agent, _tools_table(
            agent, rows, {**kit_tools, **all_tools}, policies, overrides)))

    return RuntimeSpec.model_validate({
        "tenant": tenant,
        "agents": rendered,
        "references": _spec_list(references, ReferenceSpec, "references"),
        "plans": plan_list,
        "toolkits": kit_list,
        "approval_policies": policies,
        "approval_overrides": overrides,
        "storage_factories": storage_factories or StorageFactories(),
        "providers": dict(providers or {}),
        "tool_bindings": tuple(tool_list),
    })
