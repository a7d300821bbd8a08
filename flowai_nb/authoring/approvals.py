"""Approval policies: when a plan or a tool call needs a person's decision.

A policy is ``"never"``, ``"always"`` or ``{"kind": "dynamic", "value":
predicate_id}``; on the wire it is always the normalised mapping
``{"kind": "never"}``, ``{"kind": "always"}`` or ``{"kind": "dynamic",
"value": id}``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_serializer, model_validator

from ._base import SpecModel

__all__ = [
    "ApprovalPolicy",
    "ApprovalPolicies",
    "ApprovalPolicyPatch",
    "ApprovalOverrides",
    "PolicyLike",
    "resolve_tool_policy",
    "resolve_plan_policy",
]

PolicyLike = Any
"""Anything :class:`ApprovalPolicy` accepts: ``"never"``, ``"always"``, a mapping, or a policy."""


class ApprovalPolicy(SpecModel):
    """One approval policy.

    Build it from ``"never"``, ``"always"``, ``{"kind": "dynamic", "value": id}``
    or use :meth:`dynamic`. A dynamic policy asks the predicate registered under
    ``value`` (see ``create_runtime(approval_predicates=...)``); a predicate
    that raises means approval *is* required (fail closed).
    """

    kind: Literal["never", "always", "dynamic"]
    value: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data not in ("never", "always"):
                raise ValueError(
                    f"approval policy must be 'never', 'always' or "
                    f"{{'kind': 'dynamic', 'value': predicate_id}}; got {data!r}"
                )
            return {"kind": data}
        if isinstance(data, bool):
            return {"kind": "always" if data else "never"}
        return data

    @model_validator(mode="after")
    def _check_value(self) -> ApprovalPolicy:
        if self.kind == "dynamic" and not self.value:
            raise ValueError("a dynamic approval policy needs 'value': the predicate id")
        if self.kind != "dynamic" and self.value is not None:
            raise ValueError(f"approval policy {self.kind!r} takes no value; got {self.value!r}")
        return self

    @model_serializer(mode="plain")
    def _wire(self) -> dict[str, Any]:
        if self.kind == "dynamic":
            return {"kind": "dynamic", "value": self.value}
        return {"kind": self.kind}

    @classmethod
    def dynamic(cls, predicate_id: str) -> ApprovalPolicy:
        """A policy decided at call time by the predicate registered as ``predicate_id``."""
        return cls(kind="dynamic", value=predicate_id)

    def __repr__(self) -> str:
        return f"dynamic({self.value!r})" if self.kind == "dynamic" else repr(self.kind)


_NEVER = ApprovalPolicy(kind="never")
_ALWAYS = ApprovalPolicy(kind="always")


class ApprovalPolicies(SpecModel):
    """The runtime floor: the policy for each channel when nothing more specific applies.

    Defaults: plans always need approval, tool calls never do.
    """

    plans: ApprovalPolicy = _ALWAYS
    tools: ApprovalPolicy = _NEVER

    def patched(self, patch: ApprovalPolicyPatch | None) -> ApprovalPolicies:
        """These policies with the non-``None`` fields of ``patch`` applied on top."""
        if patch is None:
            return self
        return ApprovalPolicies(
            plans=patch.plans if patch.plans is not None else self.plans,
            tools=patch.tools if patch.tools is not None else self.tools,
        )


class ApprovalPolicyPatch(SpecModel):
    """A partial set of policies an agent applies over the runtime floor."""

    plans: ApprovalPolicy | None = None
    tools: ApprovalPolicy | None = None

    @model_serializer(mode="wrap")
    def _wire(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class ApprovalOverrides(SpecModel):
    """Per-agent policies that win over the agent's own declarations.

    Attributes:
        agents: ``{agent: ApprovalPolicyPatch}``.
        tools: ``{agent: {tool: policy}}``: the most specific level of all.
    """

    agents: dict[str, ApprovalPolicyPatch] = Field(default_factory=dict)
    tools: dict[str, dict[str, ApprovalPolicy]] = Field(default_factory=dict)

    def named_agents(self) -> set[str]:
        """Every agent name these overrides mention."""
        return set(self.agents) | set(self.tools)


def resolve_tool_policy(agent: Any, tool: str, *, floor: ApprovalPolicies,
                        overrides: ApprovalOverrides, tool_policy: ApprovalPolicy | None
                        ) -> ApprovalPolicy:
    """The policy for ``agent`` calling ``tool``, most specific first.

    1. ``overrides.tools[agent][tool]``; 2. the agent's ``toolApprovalPolicies``;
    3. the tool's own declared policy (``define_tool(approval=...)``, when not
    ``never``); 4. ``overrides.agents[agent].tools``; 5. the agent's approval
    patch; 6. the runtime floor.
    """
    found = overrides.tools.get(agent.name, {}).get(tool)
    if found is None:
        found = agent.tool_approval_policies.get(tool)
    if found is None and tool_policy is not None and tool_policy.kind != "never":
        found = tool_policy
    if found is None:
        patch = overrides.agents.get(agent.name)
        found = patch.tools if patch is not None else None
    if found is None and agent.approval_policies is not None:
        found = agent.approval_policies.tools
    return found or floor.tools


def resolve_plan_policy(agent: Any, *, floor: ApprovalPolicies,
                        overrides: ApprovalOverrides) -> ApprovalPolicy:
    """The plans-channel policy inside ``agent``'s ``execute_plan``, most specific first.

    1. ``overrides.agents[agent].plans``; 2. the agent's approval patch; 3. the floor.
    """
    patch = overrides.agents.get(agent.name)
    found = patch.plans if patch is not None else None
    if found is None and agent.approval_policies is not None:
        found = agent.approval_policies.plans
    return found or floor.plans
