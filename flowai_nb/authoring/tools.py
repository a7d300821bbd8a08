"""Tools: what an agent can call, with a validated input schema and an approval policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import Field, PrivateAttr, field_validator

from ._base import SpecModel
from ._schema import CompiledSchema, compile_schema
from .approvals import ApprovalPolicy

__all__ = ["ToolSpec", "define_tool", "ToolHandler", "bound_tool"]

ToolHandler = Callable[[Any, Any], Any]
"""``handler(args, ctx)``, sync or async."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolSpec(SpecModel):
    """A tool an agent may call.

    The spec is pure data (name, description, JSON input schema, approval
    policy); the Python handler travels beside it and is bound with
    :meth:`bind`, by using :func:`define_tool` as a decorator, or through
    ``create_runtime(tool_bindings={name: handler})``.
    """

    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    approval: ApprovalPolicy | None = None

    _handler: ToolHandler | None = PrivateAttr(default=None)
    _compiled: CompiledSchema | None = PrivateAttr(default=None)
    _predicate: Callable[..., Any] | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"tool name {value!r} must be 1-64 characters of letters, digits, '_' or '-'"
            )
        return value

    @property
    def handler(self) -> ToolHandler | None:
        """The bound Python handler, or ``None``."""
        return self._handler

    @property
    def predicate(self) -> Callable[..., Any] | None:
        """The Python approval predicate declared with ``define_tool(approval=callable)``."""
        return self._predicate

    def bind(self, handler: ToolHandler) -> ToolSpec:
        """Return a copy of this spec bound to ``handler(args, ctx)``."""
        if not callable(handler):
            raise TypeError(f"tool {self.name!r}: handler must be callable, got {handler!r}")
        bound = self.model_copy()
        bound._handler = handler
        bound._compiled = self._compiled
        bound._predicate = self._predicate
        return bound

    def __call__(self, *args: Any) -> Any:
        """Decorator form when unbound (``@define_tool(...)``); calls the handler when bound."""
        if self._handler is None:
            if len(args) != 1 or not callable(args[0]):
                raise TypeError(
                    f"tool {self.name!r} has no handler yet; use it as a decorator on "
                    f"handler(args, ctx)"
                )
            return self.bind(args[0])
        return self._handler(*args)

    def compiled_schema(self) -> CompiledSchema:
        """The input schema ready for validation (model-backed when declared with one)."""
        if self._compiled is None:
            self._compiled = compile_schema(self.input_schema, name=self.name)
        return self._compiled

    def validate_arguments(self, args: Any) -> Any:
        """Validate call arguments; returns what the handler receives.

        A model instance when the tool was declared with a pydantic model,
        otherwise a dict. Raises ``ValueError`` describing every problem.
        """
        if args is None:
            args = {}
        validated, _ = self.compiled_schema().validate(
            args, what=f"invalid arguments for tool {self.name!r}"
        )
        return validated

    def __repr__(self) -> str:
        state = "bound" if self._handler else "unbound"
        return f"ToolSpec({self.name!r}, {state}, approval={self.approval!r})"


def define_tool(
    name: str,
    description: str,
    input_schema: Any,
    *,
    approval: Any = "never",
    output_schema: Any = None,
) -> ToolSpec:
    """Declare a tool.

    Use the result as a decorator on ``handler(args, ctx)`` (sync or async)::

        @define_tool("restock_quote", "Price a restock", {"sku": str, "units": int})
        def restock_quote(args, ctx):
            return {"sku": args["sku"], "cost": args["units"] * 3.5}

    Args:
        name: tool name the model calls (letters, digits, ``_``, ``-``).
        description: what the tool does, shown to the model.
        input_schema: a pydantic model class, a JSON schema, or a
            ``{field: python_type}`` mapping. Arguments are validated before
            the handler runs; the handler gets a model instance for a model
            schema, a dict otherwise.
        approval: ``"never"`` (the default: no opinion, coarser policies
            apply), ``"always"``, a dynamic policy, or a Python predicate
            ``predicate(args, info) -> bool`` registered automatically as
            ``"tool:<name>"``.
        output_schema: optional schema of the result, for documentation.
    """
    compiled = compile_schema(input_schema, name=name)
    out = (compile_schema(output_schema, name=f"{name}_output").json_schema
           if output_schema else None)
    predicate = None
    if callable(approval) and not isinstance(approval, str | dict | ApprovalPolicy):
        predicate = approval
        policy: ApprovalPolicy | None = ApprovalPolicy.dynamic(f"tool:{name}")
    else:
        policy = ApprovalPolicy.model_validate(approval)
        if policy.kind == "never":
            policy = None
    spec = ToolSpec(
        name=name, description=description, input_schema=compiled.json_schema,
        output_schema=out, approval=policy,
    )
    spec._compiled = compiled
    spec._predicate = predicate
    return spec


def bound_tool(tool: Any, where: str) -> ToolSpec:
    """``tool`` if it is a ToolSpec with a handler; ``TypeError``/``ValueError`` naming
    ``where`` and the tool otherwise."""
    if not isinstance(tool, ToolSpec):
        raise TypeError(f"{where} must hold ToolSpec values (define_tool); "
                        f"got {type(tool).__name__}: {tool!r}")
    if tool.handler is None:
        raise ValueError(f"{where}: tool {tool.name!r} has no Python handler; decorate the "
                         f"handler with @define_tool(...) or use spec.bind(handler)")
    return tool
