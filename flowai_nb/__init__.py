"""flowai_nb: run AI data agents inside Jupyter.

Declare a tenant, agents, tools, typed plans and references in plain Python,
then run them in the kernel::

    import flowai_nb as fa

    spec = fa.define_runtime(fa.define_tenant("acme", "1"), agents=[...])
    runtime = fa.create_runtime(spec, interpreter="scripted")
    async for event in runtime.query("Restock store 7", thread_id="t1"):
        ...

Heavy dependencies (pandas, duckdb, anthropic, ipywidgets) are imported
only when used, so ``import flowai_nb`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .app import FlowAIApp, define_app, define_workspace_runtime
from .authoring import (
    AgentSpec,
    ApprovalOverrides,
    ApprovalPolicies,
    ApprovalPolicy,
    ApprovalPolicyPatch,
    Glimpse,
    ModelSpec,
    PlanSpec,
    ReferenceSpec,
    RuntimeSpec,
    StorageFactories,
    StorageFactorySpec,
    TaggedUnion,
    TenantIdentity,
    TestingConfig,
    Toolkit,
    ToolkitSpec,
    ToolSpec,
    define_coordinator,
    define_executor,
    define_plan,
    define_planner,
    define_reference,
    define_runtime,
    define_specialist,
    define_tenant,
    define_tool,
    define_toolkit,
    glimpse,
    layered_prompt,
    register_toolkit_provider,
)

__version__ = "0.1.0"

# Names resolved on first use: {public name: "module:attribute"}.
_LAZY = {
    "create_runtime": "flowai_nb.engine.runtime:create_runtime",
    "Runtime": "flowai_nb.engine.runtime:Runtime",
    "RunStream": "flowai_nb.engine.stream:RunStream",
    "register_store_factory": "flowai_nb.storage:register_store_factory",
    "RunOptions": "flowai_nb.engine.options:RunOptions",
    "RunState": "flowai_nb.engine.state:RunState",
    **{name: f"flowai_nb.authoring.data_environment:{name}" for name in (
        "DataEnvironmentConfig", "CatalogSearchConfig", "CatalogEntry")},
    **{name: f"flowai_nb.evals:{name}" for name in (
        "run_eval_sync", "define_test_case", "define_eval_config", "define_eval_request",
        "define_expected_action", "define_expected_actions", "ResponseScorer",
        "RawSampleOutput", "score_sample", "EvalArtifact", "HarnessEvalEventEnvelope")},
}

if TYPE_CHECKING:  # pragma: no cover
    from .engine.options import RunOptions  # noqa: F401
    from .engine.runtime import Runtime, create_runtime  # noqa: F401
    from .engine.state import RunState  # noqa: F401
    from .engine.stream import RunStream  # noqa: F401


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext flowai_nb``: register the flowai magics and rich displays."""
    from .jupyter.extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext flowai_nb``: remove what :func:`load_ipython_extension` added."""
    from .jupyter.extension import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'flowai_nb' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AgentSpec", "ApprovalOverrides", "ApprovalPolicies", "ApprovalPolicy", "ApprovalPolicyPatch",
    "CatalogEntry", "CatalogSearchConfig", "DataEnvironmentConfig", "Glimpse", "ModelSpec",
    "PlanSpec", "ReferenceSpec", "RunOptions", "RunState", "RunStream",
    "Runtime", "RuntimeSpec", "StorageFactories", "StorageFactorySpec", "TaggedUnion",
    "TenantIdentity", "TestingConfig", "ToolSpec", "ToolkitSpec", "create_runtime",
    "define_coordinator", "define_executor", "define_plan", "define_planner", "define_reference",
    "define_runtime", "define_specialist", "define_tenant", "define_tool", "glimpse",
    "layered_prompt", "run_eval_sync", "define_test_case", "define_eval_config",
    "define_eval_request", "define_expected_action", "define_expected_actions",
    "ResponseScorer", "RawSampleOutput", "score_sample", "EvalArtifact", "HarnessEvalEventEnvelope",
    "FlowAIApp", "define_app", "define_workspace_runtime", "Toolkit", "define_toolkit",
    "register_toolkit_provider", "register_store_factory",
]
