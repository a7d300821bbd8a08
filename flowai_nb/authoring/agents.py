"""Agents: coordinator, planner, executor and specialists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from ._base import SpecModel
from .approvals import ApprovalPolicy, ApprovalPolicyPatch
from .plans import PlanSpec
from .toolkits import ToolkitSpec
from .tools import ToolSpec

__all__ = [
    "AgentSpec",
    "ModelSpec",
    "Role",
    "define_coordinator",
    "define_planner",
    "define_executor",
    "define_specialist",
    "DEFAULT_MAX_TURNS",
]

Role = Literal["coordinator", "planner", "executor", "specialist"]
DEFAULT_MAX_TURNS = 16


class ModelSpec(SpecModel):
    """Which model an agent uses; ``provider`` routes it to an interpreter.

    A plain string is accepted wherever a ModelSpec is expected:
    ``"claude-sonnet-4-5"`` becomes ``ModelSpec(id="claude-sonnet-4-5")``.
    """

    id: str = Field(min_length=1)
    provider: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        return {"id": data} if isinstance(data, str) else data

    def __repr__(self) -> str:
        return f"ModelSpec({self.id!r}" + (f", provider={self.provider!r})" if self.provider
                                           else ")")


class AgentSpec(SpecModel):
    """One agent, compiled by the runtime into an orchestrator agent.

    ``tools`` holds :class:`ToolSpec` values and ``plan`` a :class:`PlanSpec`;
    :func:`define_runtime` lifts both into the runtime's ``toolBindings`` and
    ``plans``. ``toolkits`` holds toolkit ids; a :class:`ToolkitSpec` given
    here is reduced to its id and lifted into the runtime's ``toolkits``.
    ``maxTurns`` bounds model turns per invocation (``None`` means 16).
    ``stateful``, ``model`` and ``systemPrompt`` are required, as in the
    reference; the ``define_<role>`` helpers fill role defaults.

    Kept deviations: ``define_<role>`` (not this model) also accepts tool and
    plan *names*, resolved by :func:`define_runtime` against its
    ``tool_bindings`` and ``plans``; and only a coordinator may have
    ``routes`` (other roles cannot call agents; :class:`RuntimeSpec` says so).
    """

    name: str = Field(min_length=1)
    role: Role
    stateful: bool
    model: ModelSpec
    system_prompt: str
    routes: list[str] = Field(default_factory=list)
    toolkits: list[str] = Field(default_factory=list)
    max_turns: int | None = Field(default=None, ge=1)
    plan: PlanSpec | None = None
    tools: tuple[ToolSpec, ...] = ()
    approval_policies: ApprovalPolicyPatch | None = None
    tool_approval_policies: dict[str, ApprovalPolicy] = Field(default_factory=dict)
    prompt_cache_key: str | None = None

    _declared_toolkits: tuple[ToolkitSpec, ...] = PrivateAttr(default=())
    _tool_names: tuple[str, ...] = PrivateAttr(default=())
    _plan_name: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _lift_objects(cls, data: Any, handler: Any) -> AgentSpec:
        kits: list[ToolkitSpec] = []
        if isinstance(data, Mapping):
            data = dict(data)
            raw = data.get("toolkits")
            if isinstance(raw, str | ToolkitSpec):
                raw = [raw]
            if raw is not None and not isinstance(raw, bytes | Mapping):
                ids: list[Any] = []
                for item in raw:
                    if isinstance(item, ToolkitSpec | Mapping) and not isinstance(item, str):
                        kit = ToolkitSpec.model_validate(item)
                        kits.append(kit)
                        ids.append(kit.id)
                    else:
                        ids.append(item)
                data["toolkits"] = ids
        agent = handler(data)
        if kits:
            agent._declared_toolkits = tuple(kits)
        return agent

    @field_validator("routes", mode="before")
    @classmethod
    def _no_bare_string(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("tools", mode="before")
    @classmethod
    def _one_tool(cls, value: Any) -> Any:
        return (value,) if isinstance(value, ToolSpec) else value

    @property
    def effective_max_turns(self) -> int:
        """``max_turns``, or the default of 16."""
        return self.max_turns or DEFAULT_MAX_TURNS

    @property
    def tool_names(self) -> list[str]:
        """Names of this agent's own tools, in order."""
        return [tool.name for tool in self.tools]

    @property
    def declared_toolkits(self) -> tuple[ToolkitSpec, ...]:
        """ToolkitSpec values given on this agent (lifted by :func:`define_runtime`)."""
        return self._declared_toolkits

    def __repr__(self) -> str:
        bits = [f"{self.role} {self.name!r}"]
        if self.routes:
            bits.append(f"routes={list(self.routes)}")
        if self.tools:
            bits.append(f"tools={self.tool_names}")
        if self.toolkits:
            bits.append(f"toolkits={list(self.toolkits)}")
        if self.plan:
            bits.append(f"plan={self.plan.name!r}")
        return f"AgentSpec({', '.join(bits)})"


def _patch(approval: Any) -> ApprovalPolicyPatch | None:
    if approval is None or isinstance(approval, ApprovalPolicyPatch):
        return approval
    if isinstance(approval, Mapping):
        return ApprovalPolicyPatch.model_validate(approval)
    raise TypeError(
        f"approval must be an ApprovalPolicyPatch or a mapping like "
        f"{{'plans': 'always', 'tools': 'never'}}; got {approval!r}"
    )


def _define(
    role: Role,
    name: str,
    *,
    model: Any,
    prompt: str,
    routes: Iterable[str] = (),
    tools: Iterable[ToolSpec | str] = (),
    plan: PlanSpec | str | None = None,
    toolkits: Iterable[ToolkitSpec | str] = (),
    approval: Any = None,
    tool_approvals: Mapping[str, Any] | None = None,
    max_turns: int | None = None,
    stateful: bool = False,
    prompt_cache_key: str | None = None,
) -> AgentSpec:
    tool_list = [tools] if isinstance(tools, ToolSpec | str) else list(tools)
    agent = AgentSpec(
        name=name,
        role=role,
        stateful=stateful,
        model=model,
        system_prompt=prompt,
        routes=routes,
        toolkits=toolkits,
        max_turns=max_turns,
        plan=None if isinstance(plan, str) else plan,
        tools=tuple(t for t in tool_list if not isinstance(t, str)),
        approval_policies=_patch(approval),
        tool_approval_policies=dict(tool_approvals or {}),
        prompt_cache_key=prompt_cache_key,
    )
    # Names resolve in define_runtime, against its tool_bindings and plans.
    agent._tool_names = tuple(t for t in tool_list if isinstance(t, str))
    agent._plan_name = plan if isinstance(plan, str) else None
    return agent


def _constructor(role: Role, *, stateful_default: bool, doc: str) -> Any:
    """Build ``define_<role>``: one signature for every role, role-specific defaults."""

    def define(name: str, *, model: Any, prompt: str, routes: Iterable[str] = (),
               tools: Iterable[ToolSpec | str] = (), plan: PlanSpec | str | None = None,
               toolkits: Iterable[ToolkitSpec | str] = (), approval: Any = None,
               tool_approvals: Mapping[str, Any] | None = None, max_turns: int | None = None,
               stateful: bool = stateful_default,
               prompt_cache_key: str | None = None) -> AgentSpec:
        return _define(role, name, model=model, prompt=prompt, routes=routes, tools=tools,
                       plan=plan, toolkits=toolkits, approval=approval,
                       tool_approvals=tool_approvals, max_turns=max_turns, stateful=stateful,
                       prompt_cache_key=prompt_cache_key)

    define.__name__ = define.__qualname__ = f"define_{role}"
    define.__doc__ = doc + _ARGS_DOC
    return define


_ARGS_DOC = """

    Args:
        name: the agent's unique name.
        model: a model id string or a :class:`ModelSpec` (``provider`` routes it).
        prompt: the system prompt; the tools table is appended by ``define_runtime``.
        routes: agents this one may call with ``call_agent`` (coordinators).
        tools: :class:`ToolSpec` values (or names of tools given to ``define_runtime``'s
            ``tool_bindings``).
        plan: the plan type it writes or executes (a :class:`PlanSpec`, or the name of one
            given to ``define_runtime``'s ``plans``).
        toolkits: toolkit ids or :class:`ToolkitSpec` values: the built-in ``"catalog"``,
            ``"sql"``, ``"references"``, ``"kv"``, or one from :func:`define_toolkit`.
        approval: an approval patch ``{"plans": policy, "tools": policy}``.
        tool_approvals: ``{tool name: policy}`` for this agent's calls.
        max_turns: model turns per invocation (default 16).
        stateful: keep conversation history per thread.
        prompt_cache_key: key for provider prompt caching.
    """

define_coordinator = _constructor("coordinator", stateful_default=True, doc="""\
Declare the coordinator: the entry agent of ``runtime.query``.

    It routes work to the agents in ``routes`` with the built-in
    ``call_agent(agent, prompt)`` tool. Stateful by default (keeps per-thread
    history). Its ``approval`` patch is applied on top of the runtime's
    default policies.""")

define_planner = _constructor("planner", stateful_default=False, doc="""\
Declare a planner: it drafts typed plans with the built-in ``store_plan`` tool.

    ``plan`` is the plan type it writes.""")

define_executor = _constructor("executor", stateful_default=False, doc="""\
Declare an executor: it runs stored plans with the built-in ``execute_plan`` tool.

    Execution passes the plans approval gate, then hands the actions to the
    runtime's ``action_dispatcher``.""")

define_specialist = _constructor("specialist", stateful_default=False, doc="""\
Declare a specialist: an agent with its own tools and toolkits, no routing.

    Run it from a coordinator's ``call_agent`` or directly with
    ``runtime.run_specialist(name, prompt)``.""")
