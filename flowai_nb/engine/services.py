"""``RunServices``: everything a run needs from its runtime, in one object.

:class:`~flowai_nb.engine.runtime.Runtime` builds it once and hands it to every
:class:`~flowai_nb.engine.run.Run`, so a run never reaches into the runtime.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..authoring.agents import AgentSpec
from ..authoring.approvals import ApprovalPolicy
from ..authoring.runtime_spec import RuntimeSpec
from ..authoring.tenant import TenantIdentity
from ..interpreters.base import Interpreter
from ..storage.base import KeyValueStore
from .approvals import ApprovalBroker
from .context import ReferencesFacade, ToolContext
from .history import HistoryStore
from .journal import Journal
from .leases import LeaseStore
from .plans import PlanStore
from .references import ReferenceStore
from .tools import ToolRegistry
from .traces import TraceStore

__all__ = ["RunServices"]

_OWNERS: weakref.WeakValueDictionary[str, RunServices] = weakref.WeakValueDictionary()
"""The runtimes of this process by lease owner id."""


@dataclass(slots=True, eq=False, weakref_slot=True)
class RunServices:
    """Stores, broker, references, traces, tool registry, interpreter lookup and
    hooks of one runtime (shared by all its runs)."""

    spec: RuntimeSpec
    tenant: TenantIdentity
    kv: KeyValueStore
    """The tenant's engine store: paused runs, leases, approvals, references, traces."""
    memory: KeyValueStore
    """The store of conversation history (read through ``history_log``)."""
    user_kv: KeyValueStore
    """``ctx.kv`` of tool handlers."""
    plans: PlanStore
    broker: ApprovalBroker
    refs: ReferenceStore
    traces: TraceStore
    journal: Journal
    leases: LeaseStore
    tools: ToolRegistry
    interpreter_for: Callable[[AgentSpec], Interpreter]
    hooks: list[Callable[..., Any]]
    dispatcher: Callable[..., Any] | None
    predicates: dict[str, Callable[..., Any]]
    user_services: dict[str, Any]
    data: Callable[[], Any]
    tool_timeout: Callable[[str], float | None] = lambda name: None
    """Seconds a call of tool ``name`` may run (``None``: unbounded)."""
    approval_timeout: float | None = None
    reference_threshold_bytes: int = 32_768
    lease_seconds: float = 30.0
    live: dict[str, Any] = field(default_factory=dict)
    """Runs executing in this process, by id."""
    owner: str = ""
    """This runtime's lease owner id."""
    handle: Any = None
    """The public :class:`~flowai_nb.engine.runtime.Runtime` (streams expose it)."""
    waiters: dict[str | None, asyncio.Future[None]] = field(default_factory=dict)
    """Followers waiting for the next event of a run (``None``: of any run)."""
    _ref_facade: ReferencesFacade | None = None
    _policies: dict[tuple[str, str], ApprovalPolicy] = field(default_factory=dict)
    _history: HistoryStore | None = None
    _unlisten: Callable[[], None] | None = None
    _pushed: bool | None = None

    def wake(self, run_id: str | None) -> asyncio.Future[None]:
        """A future resolved at the next event of ``run_id`` (any run for ``None``)."""
        loop = asyncio.get_running_loop()
        future = self.waiters.get(run_id)
        if future is None or future.done() or future.get_loop() is not loop:
            future = self.waiters[run_id] = loop.create_future()
        return future

    def notify(self, run_id: str) -> None:
        """Wake the followers of ``run_id`` (called for each delivered event)."""
        waiters = self.waiters
        for key in (run_id, None):
            future = waiters.pop(key, None)
            if future is not None and not future.done():
                loop = future.get_loop()
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if loop is running:
                    future.set_result(None)
                else:
                    loop.call_soon_threadsafe(_settle, future)

    def wake_all(self) -> None:
        """Wake every follower (a notice from another process; safe from any thread)."""
        waiters = self.waiters
        for key in list(waiters):
            future = waiters.pop(key, None)
            if future is not None and not future.done():
                future.get_loop().call_soon_threadsafe(_settle, future)

    def push_wakeups(self) -> bool:
        """Listen (once) for journal notices from other processes; return whether the
        store pushes them (PostgreSQL, Redis) or followers must poll."""
        if self._pushed is None:
            self._unlisten = self.kv.listen("journal", self.wake_all)
            self._pushed = self._unlisten is not None
        return self._pushed

    def stop_listening(self) -> None:
        """Stop the journal notices (the runtime is closing)."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten, self._pushed = None, None

    def __post_init__(self) -> None:
        if self.owner:
            _OWNERS[self.owner] = self

    def owner_is_gone(self, owner: Any, run_id: str) -> bool:
        """Whether lease ``owner`` is a runtime of this process that no longer executes
        ``run_id`` (its loop ended); an owner in another process is trusted until its
        lease expires."""
        if not isinstance(owner, str) or not owner.startswith(owner_prefix()):
            return False
        services = _OWNERS.get(owner)
        if services is None:  # that runtime was garbage-collected with its runs
            return True
        run = services.live.get(run_id)
        if run is None or run.task is None:
            return True
        if run.task.done() or not run.task.get_loop().is_running():
            run.lease_until = 0.0  # it may be taken over: that run must read it to let go
            return True
        return False

    def tool_policy(self, agent: AgentSpec, tool: str) -> ApprovalPolicy:
        """The effective approval policy of ``agent`` calling ``tool`` (the spec is frozen,
        so it is resolved once per pair)."""
        policy = self._policies.get((agent.name, tool))
        if policy is None:
            policy = self._policies[agent.name, tool] = self.spec.tool_policy(agent, tool)
        return policy

    def context(self, run: Any, agent: str, tool_use_id: str | None,
                extra: dict[str, Any] | None = None) -> ToolContext:
        """The ``ctx`` of a tool handler (or the action dispatcher)."""
        return ToolContext(services=self.user_services, tool_use_id=tool_use_id,
                           references=self.references, data_provider=self.data,
                           kv=self.user_kv, agent=agent, thread_id=run.thread_id,
                           run_id=run.id, extra=extra)

    @property
    def references(self) -> ReferencesFacade:
        """Create, resolve and glimpse references synchronously (``ctx.references``)."""
        if self._ref_facade is None:
            self._ref_facade = ReferencesFacade(self.refs)
        return self._ref_facade

    @property
    def history_log(self) -> HistoryStore:
        """The append-only conversation log of stateful agents (cached per runtime)."""
        if self._history is None:
            self._history = HistoryStore(self.memory)
        return self._history

    def history(self, agent: AgentSpec, thread: str) -> list[dict[str, Any]]:
        """The stored conversation of a stateful agent on ``thread``."""
        if not agent.stateful:
            return []
        return self.history_log.read(thread, agent.name)

    def save_history(self, agent: AgentSpec, thread: str,
                     messages: list[dict[str, Any]]) -> None:
        """Append ``messages`` (what one invocation added) to the conversation of a
        stateful agent on ``thread``."""
        self.history_log.append(thread, agent.name, messages)


def owner_prefix() -> str:
    """The start of every lease owner id made by this process."""
    return f"owner-{os.getpid()}-"


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
