"""``RunServices``: everything a run needs from its runtime, in one object.

:class:`~flowai_nb.engine.runtime.Runtime` builds it once and hands it to every
:class:`~flowai_nb.engine.run.Run`, so a run never reaches into the runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..authoring.agents import AgentSpec
from ..authoring.runtime_spec import RuntimeSpec
from ..authoring.tenant import TenantIdentity
from ..interpreters.base import Interpreter
from ..storage.base import KeyValueStore
from .approvals import ApprovalBroker
from .context import ReferencesFacade, ToolContext
from .plans import PlanStore
from .references import ReferenceStore
from .tools import ToolRegistry
from .traces import TraceStore

__all__ = ["RunServices"]


@dataclass(slots=True, eq=False)
class RunServices:
    """Stores, broker, references, traces, tool registry, interpreter lookup and
    hooks of one runtime (shared by all its runs)."""

    spec: RuntimeSpec
    tenant: TenantIdentity
    kv: KeyValueStore
    """The tenant's engine store: paused runs, leases, approvals, references, traces."""
    memory: KeyValueStore
    """Conversation history of stateful agents."""
    user_kv: KeyValueStore
    """``ctx.kv`` of tool handlers."""
    plans: PlanStore
    broker: ApprovalBroker
    refs: ReferenceStore
    traces: TraceStore
    tools: ToolRegistry
    interpreter_for: Callable[[AgentSpec], Interpreter]
    hooks: list[Callable[..., Any]]
    dispatcher: Callable[..., Any] | None
    predicates: dict[str, Callable[..., Any]]
    user_services: dict[str, Any]
    data: Callable[[], Any]
    approval_timeout: float | None = None
    reference_threshold_bytes: int = 32_768
    lease_seconds: float = 30.0
    live: dict[str, Any] = field(default_factory=dict)
    """Runs executing in this process, by id."""
    owner: str = ""
    """This runtime's lease owner id."""
    handle: Any = None
    """The public :class:`~flowai_nb.engine.runtime.Runtime` (streams expose it)."""
    _ref_facade: ReferencesFacade | None = None

    def context(self, run: Any, agent: str, tool_use_id: str | None,
                extra: dict[str, Any] | None = None) -> ToolContext:
        """The ``ctx`` of a tool handler (or the action dispatcher)."""
        if self._ref_facade is None:
            self._ref_facade = ReferencesFacade(self.refs)
        return ToolContext(services=self.user_services, tool_use_id=tool_use_id,
                           references=self._ref_facade, data_provider=self.data,
                           kv=self.user_kv, agent=agent, thread_id=run.thread_id,
                           run_id=run.id, extra=extra)

    def history(self, agent: AgentSpec, thread: str) -> list[dict[str, Any]]:
        """The stored conversation of a stateful agent on ``thread``."""
        if not agent.stateful:
            return []
        return list(self.memory.get(f"history/{thread}/{agent.name}") or [])

    def save_history(self, agent: AgentSpec, thread: str,
                     messages: list[dict[str, Any]]) -> None:
        """Store the conversation of a stateful agent on ``thread``."""
        self.memory.put(f"history/{thread}/{agent.name}", messages)
