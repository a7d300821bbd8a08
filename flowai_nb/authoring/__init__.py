"""Authoring: the pure-data half of flowai_nb (pydantic models and ``define_*`` helpers).

Nothing here does I/O or imports the engine.
"""

from .agents import (
    AgentSpec,
    ModelSpec,
    define_coordinator,
    define_executor,
    define_planner,
    define_specialist,
)
from .approvals import ApprovalOverrides, ApprovalPolicies, ApprovalPolicy, ApprovalPolicyPatch
from .data_environment import (
    CatalogEntry,
    CatalogSearchConfig,
    ColumnEntry,
    DataEnvironmentConfig,
    ForeignKey,
    GlossaryTerm,
)
from .plans import PlanSpec, TaggedUnion, define_plan
from .prompts import layered_prompt
from .references import Glimpse, ReferenceSpec, define_reference, glimpse
from .runtime_spec import RuntimeSpec, define_runtime
from .storage import StorageFactories, StorageFactorySpec
from .tenant import TenantIdentity, define_tenant
from .testing import TestingConfig
from .toolkits import Toolkit, ToolkitSpec, define_toolkit, register_toolkit_provider
from .tools import ToolSpec, define_tool

__all__ = [
    "CatalogEntry", "CatalogSearchConfig", "ColumnEntry", "DataEnvironmentConfig", "ForeignKey",
    "GlossaryTerm", "AgentSpec", "ApprovalOverrides", "ApprovalPolicies", "ApprovalPolicy",
    "ApprovalPolicyPatch",
    "Glimpse", "ModelSpec", "PlanSpec", "ReferenceSpec", "RuntimeSpec", "StorageFactories",
    "StorageFactorySpec", "TaggedUnion", "TenantIdentity", "TestingConfig", "ToolSpec",
    "Toolkit", "ToolkitSpec", "define_toolkit", "register_toolkit_provider",
    "define_coordinator", "define_executor", "define_plan", "define_planner",
    "define_reference", "define_runtime", "define_specialist", "define_tenant", "define_tool",
    "glimpse", "layered_prompt",
]
