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
    """One agent.

    ``tools`` holds tool names; tool specs given here are lifted into the
    runtime's ``toolBindings`` by :func:`define_runtime`, and a plan spec given
    as ``plan`` is lifted into its ``plans``. ``maxTurns`` bounds model turns
    per invocation (``None`` means the default, 16).
    """

    name: str = Field(min_length=1)
    role: Role
    stateful: bool = False
    model: ModelSpec | None = None
    system_prompt: str = ""
    routes: tuple[str, ...] = ()
    toolkits: tuple[ToolkitSpec, ...] = ()
    max_turns: int | None = Field(default=None, ge=1)
    plan: str | None = None
    tools: tuple[str, ...] = ()
    approval_policies: ApprovalPolicyPatch | None = None
    tool_approval_policies: dict[str, ApprovalPolicy] = Field(default_factory=dict)
    prompt_cache_key: str | None = None

    _declared_tools: dict[str, ToolSpec] = PrivateAttr(default_factory=dict)
    _declared_plan: PlanSpec | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _lift_objects(cls, data: Any, handler: Any) -> AgentSpec:
        tools: dict[str, ToolSpec] = {}
        plan = None
        if isinstance(data, Mapping):
            data = dict(data)
            raw_tools = data.get("tools")
            if raw_tools is not None and not isinstance(raw_tools, str | bytes):
                names = []
                for item in raw_tools:
                    if isinstance(item, ToolSpec):
                        tools[item.name] = item
                        names.append(item.name)
                    else:
                        names.append(item)
                data["tools"] = names
            if isinstance(data.get("plan"), PlanSpec):
                plan = data["plan"]
                data["plan"] = plan.name
        agent = handler(data)
        if tools:
            agent._declared_tools = {**agent._declared_tools, **tools}
        if plan is not None:
            agent._declared_plan = plan
        return agent

    @field_validator("toolkits", mode="before")
    @classmethod
    def _toolkits(cls, value: Any) -> Any:
        if isinstance(value, str | ToolkitSpec):
            return (value,)
        return value

    @field_validator("routes", "tools", mode="before")
    @classmethod
    def _no_bare_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value

    @property
    def effective_max_turns(self) -> int:
        """``max_turns``, or the default of 16."""
        return self.max_turns or DEFAULT_MAX_TURNS

    @property
    def declared_tools(self) -> dict[str, ToolSpec]:
        """Tool specs given on this agent (lifted by :func:`define_runtime`)."""
        return dict(self._declared_tools)

    @property
    def declared_plan(self) -> PlanSpec | None:
        """The plan spec given on this agent, if any."""
        return self._declared_plan

    def __repr__(self) -> str:
        bits = [f"{self.role} {self.name!r}"]
        if self.routes:
            bits.append(f"routes={list(self.routes)}")
        if self.tools:
            bits.append(f"tools={list(self.tools)}")
        if self.toolkits:
            bits.append(f"toolkits={[t.id for t in self.toolkits]}")
        if self.plan:
            bits.append(f"plan={self.plan!r}")
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
    return AgentSpec(
        name=name,
        role=role,
        stateful=stateful,
        model=model,
        system_prompt=prompt,
        routes=tuple(routes),
        toolkits=tuple(toolkits),
        max_turns=max_turns,
        plan=plan,
        tools=tuple(tools),
        approval_policies=_patch(approval),
        tool_approval_policies=dict(tool_approvals or {}),
        prompt_cache_key=prompt_cache_key,
    )


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
        tools: :class:`ToolSpec` values (or names of tools given to ``define_runtime``).
        plan: the plan type it writes or executes (a :class:`PlanSpec` or its name).
        toolkits: built-in toolkits: ``"catalog"``, ``"sql"``, ``"references"``, ``"kv"``.
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
