"""``create_runtime`` and the :class:`Runtime` handle (SPEC §3)."""

from __future__ import annotations

import inspect
import json
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

from .._json import dumps
from ..authoring.agents import AgentSpec
from ..authoring.runtime_spec import RuntimeSpec
from ..authoring.secrets import reveal, secret_url
from ..authoring.storage import StorageFactorySpec
from ..authoring.testing import TestingConfig
from ..authoring.toolkits import Toolkit, resolve_toolkit
from ..authoring.tools import ToolSpec, bound_tool
from ..interpreters.base import Interpreter
from ..storage import open_store
from ..storage.base import KeyValueStore
from ._util import new_id
from .approvals import ApprovalBroker, make_approver
from .builtins import BUILTIN_TOOLS
from .context import RESERVED_SERVICE_KEYS, ReferencesFacade
from .journal import Journal, Subscription
from .leases import LeaseStore
from .options import RunOptions, check_options
from .plans import PlanStore
from .references import ReferenceStore
from .run import RESUME_PREFIX, Run
from .services import RunServices, owner_prefix
from .stream import RunStream
from .tool_exec import DEFAULT_TOOL_TIMEOUT_S, check_timeout
from .toolkits import DATA_TOOLS
from .tools import ToolRegistry
from .traces import TraceStore, trace_id_of

__all__ = ["Runtime", "create_runtime", "INTERPRETERS"]

INTERPRETERS = ("noop", "scripted", "anthropic")


class _Done(Coroutine[Any, Any, Any]):
    """An already-finished coroutine: the work happened at call time, so the call works
    with ``await``, with ``asyncio.run`` and from plain synchronous code alike."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def send(self, _: Any) -> Any:
        raise StopIteration(self.value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        raise val if val is not None else typ

    def close(self) -> None:
        return None

    def __await__(self) -> Any:
        return self.value
        yield  # pragma: no cover


class Runtime:
    """A live runtime: runs agents, holds approvals, plans, references and traces.

    Create it with :func:`create_runtime`. Every method is safe to use from
    ``asyncio.run`` many times and from a notebook's running loop.
    """

    def __init__(self, spec: RuntimeSpec, *, handlers: dict[str, Callable[..., Any]],
                 services: dict[str, Any], predicates: dict[str, Callable[..., Any]],
                 dispatcher: Callable[..., Any] | None, hooks: list[Callable[..., Any]],
                 data_environment: Any, interpreter_name: str | Interpreter,
                 testing: TestingConfig | None) -> None:
        self.spec = spec
        self.tenant = spec.tenant
        self._toolkits = _resolve_toolkits(spec)
        self.services = services
        """The objects tools reach as ``ctx.<name>``."""
        self.data_environment_config = data_environment
        self._data_env: Any = None
        self._data_lock = threading.Lock()
        self._tool_timeout_s: float | None = DEFAULT_TOOL_TIMEOUT_S
        self.tool_timeouts: dict[str, float | None] = {}
        """Per-tool timeouts in seconds (``{tool name: seconds or None}``), overriding
        :attr:`tool_timeout`."""

        factories = spec.storage_factories
        kv_desc = factories.kv
        if kv_desc is None and data_environment is not None and data_environment.kv is not None:
            kv_desc = StorageFactorySpec.model_validate(_descriptor(data_environment.kv))
        self._stores: list[KeyValueStore] = []
        self._closed = False
        namespace = f"tenant/{self.tenant.key}"
        kv = self._open(kv_desc).scoped(namespace)
        self._kv = kv
        plans_kv = self._open(factories.plans).scoped(namespace) if factories.plans else kv
        memory_kv = self._open(factories.memory).scoped(namespace) if factories.memory else kv
        self.interpreter = self._make_interpreter(interpreter_name, testing)
        self._interpreters: dict[str, Interpreter] = {self.interpreter.name: self.interpreter}
        journal = Journal(kv)
        self._run_services = RunServices(
            spec=spec, tenant=self.tenant, kv=kv, memory=memory_kv, user_kv=kv.scoped("user"),
            plans=PlanStore(plans_kv), broker=ApprovalBroker(kv, spec.plans_by_name),
            refs=ReferenceStore(kv, spec.references_by_name, self.tenant.key),
            traces=TraceStore(kv, journal), journal=journal, leases=LeaseStore(kv),
            tools=ToolRegistry(spec, handlers, BUILTIN_TOOLS, self._toolkits,
                               data_configured=data_environment is not None),
            interpreter_for=self._interpreter_for, hooks=hooks, dispatcher=dispatcher,
            predicates=predicates, user_services=services, data=self._data,
            tool_timeout=self._tool_timeout, owner=new_id(owner_prefix() + "rt"),
            handle=self)
        # Agents routed to another provider get theirs now, so a missing key fails here.
        for agent in spec.agents:
            if agent.model is not None and agent.model.provider is not None:
                self._interpreter_for(agent)

    @property
    def approval_timeout(self) -> float | None:
        """Seconds after which a pending approval is rejected with feedback "timed out"
        (``None``, the default, waits for as long as it takes)."""
        return self._run_services.approval_timeout

    @approval_timeout.setter
    def approval_timeout(self, value: float | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not value > 0):
            raise ValueError(f"approval_timeout must be a positive number of seconds or None; "
                             f"got {value!r}")
        self._run_services.approval_timeout = value

    @property
    def lease_seconds(self) -> float:
        """How long a run's lease lasts without a heartbeat (renewed every third of it while
        the run lives); a run whose process was killed is resumable after this long."""
        return self._run_services.lease_seconds

    @lease_seconds.setter
    def lease_seconds(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"lease_seconds must be a positive number of seconds; got {value!r}")
        self._run_services.lease_seconds = float(value)

    @property
    def reference_threshold_bytes(self) -> int:
        """Tool results larger than this (as JSON) are stored as references automatically."""
        return self._run_services.reference_threshold_bytes

    @reference_threshold_bytes.setter
    def reference_threshold_bytes(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"reference_threshold_bytes must be a non-negative int; "
                             f"got {value!r}")
        self._run_services.reference_threshold_bytes = value

    @property
    def tool_timeout(self) -> float | None:
        """Seconds a tool call may run before it ends with a timeout error the model reads
        (default 120; ``None`` never times out). Override per tool in :attr:`tool_timeouts`;
        the catalog and sql tools default to the data environment's query timeout plus 10 s."""
        return self._tool_timeout_s

    @tool_timeout.setter
    def tool_timeout(self, value: float | None) -> None:
        self._tool_timeout_s = check_timeout(value, "tool_timeout")

    def _tool_timeout(self, name: str) -> float | None:
        if name in self.tool_timeouts:
            return check_timeout(self.tool_timeouts[name], f"tool_timeouts[{name!r}]")
        if name in DATA_TOOLS and self.data_environment_config is not None:
            sql = getattr(self.data_environment_config, "sql", None)
            if sql is not None:
                return sql.timeout_s + 10.0
        return self._tool_timeout_s

    # -- construction helpers ---------------------------------------------------------
    def _open(self, descriptor: StorageFactorySpec | None) -> KeyValueStore:
        store = open_store(descriptor or {"kind": "memory"})
        self._stores.append(store)
        return store

    def _make_interpreter(self, name: str | Interpreter,
                          testing: TestingConfig | None) -> Interpreter:
        if testing is not None:
            from ..interpreters.mock import MockInterpreter

            return MockInterpreter(testing.mock_response)
        if isinstance(name, Interpreter):
            return name
        if name == "noop":
            from ..interpreters.noop import NoopInterpreter

            return NoopInterpreter()
        if name == "scripted":
            from ..interpreters.scripted import ScriptedInterpreter

            config = _scripted_config(self.spec)
            scripts = dict(config.get("scripts") or {})
            if config.get("replay") is not None:
                from ..interpreters.replay import script_from_trace

                for agent, turns in script_from_trace(config["replay"]).items():
                    scripts.setdefault(agent, turns)
            return ScriptedInterpreter(scripts, self._kv)
        if name == "anthropic":
            from ..interpreters.anthropic import AnthropicInterpreter

            return AnthropicInterpreter.from_providers(self.spec.providers)
        raise ValueError(f"unknown interpreter {name!r}; expected one of {INTERPRETERS}")

    def _interpreter_for(self, agent: AgentSpec) -> Interpreter:
        provider = agent.model.provider if agent.model is not None else None
        if provider is None:
            return self.interpreter
        if provider not in self._interpreters:
            if provider not in INTERPRETERS:
                raise ValueError(f"agent {agent.name!r} names provider {provider!r}; expected "
                                 f"one of {INTERPRETERS}")
            self._interpreters[provider] = self._make_interpreter(provider, None)
        return self._interpreters[provider]

    def _data(self) -> Any:
        if self.data_environment_config is None:
            return None
        with self._data_lock:  # tools run in worker threads: build it once
            if self._data_env is None:
                from ..data.environment import DataEnvironment

                refs = self._run_services.refs
                self._data_env = DataEnvironment.from_config(
                    self.data_environment_config, tenant=self.tenant,
                    resolve_reference=refs.resolve, create_reference=refs.create)
        return self._data_env

    @property
    def data(self) -> Any:
        """The data environment (DuckDB), or ``None`` when none is configured."""
        return self._data()

    # -- runs ------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (the runtime then refuses new runs)."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"this runtime (tenant {self.tenant.key!r}) was closed; its "
                               f"stores are gone: create a new one with create_runtime(...)")

    def _start(self, entry: str, prompt: Any, thread_id: str | None, approvals: Any,
               options: RunOptions | None, call: dict[str, Any] | None = None) -> RunStream:
        self._check_open()
        run_options = check_options(options)
        interpreter_options: dict[str, Any] = {}
        text = "" if prompt is None else prompt
        if not isinstance(text, str):
            raise TypeError(f"prompt must be a string; got {type(prompt).__name__}")
        script = (_prompt_script(text, entry, [a.name for a in self.spec.agents])
                  if call is None else None)
        if script is not None:
            interpreter_options["script"] = script
        thread = thread_id if thread_id is not None else new_id("thread")
        if not isinstance(thread, str) or not thread or "/" in thread:
            raise ValueError(f"thread_id must be a non-empty string without '/'; got {thread!r}")
        live = self._run_services.live.values()
        busy = next((r for r in live if r.thread_id == thread and _alive(r)), None)
        if busy is not None:
            waiting = f" waiting for approval {busy.parked!r}" if busy.parked else ""
            raise RuntimeError(
                f"thread {thread!r} already has a run in progress ({busy.id}{waiting}); "
                f"finish, answer or cancel it first, or use another thread_id")
        run = Run(self._run_services, run_id=new_id("run"), thread_id=thread, entry=entry,
                  prompt=text, approver=make_approver(approvals), options=run_options,
                  interpreter_options=interpreter_options, direct_call=call)
        run.stream = RunStream(run, run.main)
        return run.stream

    def query(self, /, prompt: str | None, thread_id: str, resume: str | None = None, *,
              approvals: Any = None, options: RunOptions | None = None) -> RunStream:
        """Run one coordinator turn; returns the run's event stream.

        Args:
            prompt: what the user asks (ignored when ``resume`` is given). A
                JSON object ``{"script": [...]}`` scripts the entry agent on the
                scripted interpreter.
            thread_id: the conversation; stateful agents keep history per thread.
                Kept deviation from the reference (``thread_id: Any``): a non-empty
                string without ``/``, because ``thread/agent`` names each sub-agent's
                own conversation; anything else is a ValueError naming the value.
            resume: a ``resumeToken`` from a paused run's ``approval-required``
                event: continues that run (in this or a new kernel).
            approvals: headless approval policy: ``"auto_approve"``,
                ``"auto_reject"``, a list of decisions, or a callable
                ``(request) -> decision``. Default: env ``FLOWAI_NB_APPROVAL``,
                else wait for :meth:`respond_to_approval`.
            options: :class:`RunOptions` of the run (eval ids, tags).
        """
        if resume is not None:
            return self._resume(resume, thread_id, approvals)
        coordinator = self.spec.coordinator
        if coordinator is None:
            raise ValueError(
                "this runtime has no coordinator, so query() has no entry agent; use "
                f"run_specialist(name, prompt) with one of {self._specialists()}"
            )
        return self._start(coordinator.name, prompt, thread_id, approvals, options)

    def call_tool(self, tool: str, args: Mapping[str, Any] | None = None, *,
                  agent: str | None = None, thread_id: str | None = None,
                  approvals: Any = None, options: RunOptions | None = None) -> RunStream:
        """Run one tool call as a run of its own, without a model turn.

        The run is like any other (events, trace, tenant, approval gate, resume
        token): ``run-start``, ``agent-start``, ``tool-call``, then
        ``approval-required`` / ``approval-decision`` when the tool's policy asks
        for one, ``tool-result``, ``agent-finish`` and ``run-finish`` whose text is
        the result. This is how MCP clients call the runtime's tools.

        Args:
            tool: a name from :meth:`callable_tools`.
            args: the tool's arguments (validated against its input schema).
            agent: whose approval policies apply; default: of the agents that list
                the tool, the one whose policy is strictest (``always`` before
                ``dynamic`` before ``never``); the coordinator when none does.
            thread_id, approvals, options: as for :meth:`query`.

        Raises:
            ValueError: unknown tool or agent.
        """
        tools = self._run_services.tools
        if not isinstance(tool, str) or tool not in tools.direct_names():
            names = [row["name"] for row in tools.direct_rows()]
            raise ValueError(f"unknown tool {tool!r}; tools call_tool can run: {names}")
        if agent is None:
            agent = self._run_services.tools.direct_agent(tool).name
        elif agent not in [a.name for a in self.spec.agents]:
            raise ValueError(f"unknown agent {agent!r}; known agents: "
                             f"{[a.name for a in self.spec.agents]}")
        call = {"id": new_id("call"), "tool": tool, "args": dict(args or {})}
        return self._start(agent, f"{tool} {dumps(call['args'], compact=False)}",
                           thread_id, approvals, options, call=call)

    def callable_tools(self) -> list[dict[str, Any]]:
        """Tools :meth:`call_tool` runs: every Python tool with a handler, plus the data
        toolkits' tools when a data environment is configured.

        Each row is ``{name, description, input_schema, output_schema}`` (the output
        schema is ``None`` when the tool declares none).
        """
        return self._run_services.tools.direct_rows()

    def _specialists(self) -> list[str]:
        return [a.name for a in self.spec.agents if a.role == "specialist"]

    def run_specialist(self, /, specialist: str, prompt: str, thread_id: str | None = None,
                       *, approvals: Any = None,
                       options: RunOptions | None = None) -> RunStream:
        """Run one specialist directly; returns the run's event stream.

        Raises:
            ValueError: ``specialist`` is not a specialist of this runtime.
        """
        if specialist not in self._specialists():
            raise ValueError(f"unknown specialist {specialist!r}; known specialists: "
                             f"{self._specialists()}")
        return self._start(specialist, prompt, thread_id, approvals, options)

    def run_agent(self, agent: str, prompt: str, thread_id: str | None = None, *,
                  approvals: Any = None, options: RunOptions | None = None) -> RunStream:
        """Run any agent (planner, executor, ...) directly as the entry agent of a run.

        Raises:
            ValueError: no agent of that name.
        """
        names = [a.name for a in self.spec.agents]
        if agent not in names:
            raise ValueError(f"unknown agent {agent!r}; known agents: {names}")
        return self._start(agent, prompt, thread_id, approvals, options)

    def _resume(self, token: str, thread_id: str | None, approvals: Any) -> RunStream:
        self._check_open()
        if not isinstance(token, str) or not token.startswith(RESUME_PREFIX):
            raise ValueError(f"resume token {token!r} is not a flowai_nb resume token "
                             f"(expected '{RESUME_PREFIX}<run id>')")
        run_id = token[len(RESUME_PREFIX):]
        live = self._run_services.live.get(run_id)
        if live is not None and _alive(live):
            stream = RunStream(live, lambda: _follow(live))
            previous, live.stream = live.stream, stream
            if previous is not None:
                previous._close()
            if approvals is not None:
                live.approver = make_approver(approvals)
            return stream
        services = self._run_services
        # the paused state, its lease, its trace, its journal and its gates' decisions: one read
        (state, lease, trace), (chunks, decided) = self._kv.read(
            [f"runs/{run_id}", LeaseStore.key(run_id), TraceStore.key(trace_id_of(run_id))],
            [Journal.prefix(run_id), ApprovalBroker.run_decisions_prefix(run_id)])
        if state is None:
            raise RuntimeError(
                f"nothing to resume for token {token!r}: no paused run {run_id} for tenant "
                f"{self.tenant.key!r} (it finished, was cancelled, or lives in another store)"
            )
        if thread_id and thread_id != state["threadId"]:
            raise ValueError(f"resume token {token!r} belongs to thread {state['threadId']!r}, "
                             f"not {thread_id!r}")
        if lease is not None and lease.get("owner") != services.owner \
                and not services.owner_is_gone(lease.get("owner"), run_id):
            from .leases import _held

            raise _held(run_id, lease)
        run = Run.restore(services, state, make_approver(approvals),
                          trace if trace is not None and trace.get("runId") == run_id else None,
                          journal=Journal.events_of(chunks),
                          decisions=ApprovalBroker.decisions_of(decided))
        run.stream = RunStream(run, run.main)
        return run.stream

    def subscribe(self, run_id: str | None = None, thread_id: str | None = None,
                  since_seq: int | None = None) -> Subscription:
        """Follow runs' events from the journal: replay, then live (SPEC §5.2).

        ``async for event in runtime.subscribe(run_id=...)`` replays that run's
        events from ``since_seq`` (default 0) and ends after its ``run-finish``;
        ``thread_id=`` follows every run of a thread; no argument follows every
        run that starts from now on. Any number of subscriptions may follow one
        run, in this process or another sharing the store; a slow one never
        slows the run.

        Raises:
            ValueError: ``since_seq`` without ``run_id``, both ``run_id`` and
                ``thread_id``, or a bad id or seq.
        """
        _check_filters(run_id=run_id, thread_id=thread_id)
        if run_id is not None and thread_id is not None:
            raise ValueError(f"pass run_id or thread_id, not both: run {run_id!r} is followed "
                             f"on its own (its thread is known); thread_id={thread_id!r} "
                             f"alone follows every run of that thread")
        if since_seq is not None:
            if run_id is None:
                raise ValueError("since_seq needs run_id: seqs count the events of one run")
            if isinstance(since_seq, bool) or not isinstance(since_seq, int) or since_seq < 0:
                raise ValueError(f"since_seq must be a non-negative int; got {since_seq!r}")
        services = self._run_services
        return Subscription(services.journal, services.live, run_id, thread_id, since_seq,
                            services.wake, pushed=services.push_wakeups())

    # -- approvals ---------------------------------------------------------------------------
    def respond_to_approval(self, /, approval_id: str, outcome: str,
                            feedback: str | None = None, partial: Any = None) -> Any:
        """Answer a pending approval: ``approve``, ``reject`` or ``revise``.

        Awaitable (``await runtime.respond_to_approval(...)``); the decision is
        recorded at call time, so calling it without ``await`` from synchronous
        code works too.

        Args:
            approval_id: from the ``approval-required`` event or :meth:`pending_approvals`.
            outcome: ``"approve"``, ``"reject"`` or ``"revise"``.
            feedback: the reviewer's words, forwarded to the agent.
            partial: for ``revise``, anything the planner should see. For ``approve``
                of a plan, the actions to run: ``{"actions": [entries]}`` where an entry
                is an action index (run it as stored) or ``{"index": i, "payload":
                {...}}`` (run action ``i`` with this payload; its kind and references
                stay). Unlisted actions are left out; each index at most once, at least
                one. An edited payload is checked with the plan type's validator. The
                plan's ``approved`` history entry then records ``edited`` (index, kind,
                before, after) and ``deselected``, and its ``dispatchedActions`` what the
                dispatcher received.

        Raises:
            ValueError: ``outcome`` is not approve / reject / revise, ``feedback`` or
                ``partial`` is not JSON data, or ``partial`` is invalid (naming the entry,
                and for an edit the index, the field and what was expected). Nothing is
                recorded: the approval stays pending.
            RuntimeError: the id is unknown or already resolved.
        """
        return _Done(self._run_services.broker.resolve(approval_id, outcome, feedback, partial))

    def get_approval(self, approval_id: str) -> dict[str, Any] | None:
        """The record of an approval (pending or decided, with its ``decision``), or ``None``."""
        return self._run_services.broker.get(approval_id)

    def pending_approvals(self) -> list[dict[str, Any]]:
        """Approvals waiting for a decision (persisted; survive a kernel restart)."""
        return self._run_services.broker.pending()

    # -- plans ---------------------------------------------------------------------------------
    def get_plan(self, plan_id: str, *, thread_id: str | None = None) -> dict[str, Any]:
        """A stored plan: ``"base@vN"``, or a base id for its latest version.

        Plan versions are per thread: the same base id in two threads is two plans,
        each starting at ``v1``. With ``thread_id`` the plan of that thread is
        returned; without, the plan of the one thread that has this id.

        ``actions`` are what the planner proposed; once dispatched, ``dispatchedActions``
        (``{index, kind, payload, references}`` each) are what the dispatcher received,
        edits of a partial approval included.

        Raises:
            PlanNotFoundError: no such plan (in that thread).
            AmbiguousPlanError: no ``thread_id`` and several threads have this id; the
                message names them (also in ``.threads``).
        """
        return self._run_services.plans.get(plan_id, thread_id=thread_id)

    def list_plans(self, thread_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored plan version (of one thread, when given), oldest first."""
        return self._run_services.plans.list(thread_id=thread_id)

    # -- traces --------------------------------------------------------------------------------
    def get_trace(self, /, trace_id: str) -> dict[str, Any] | None:
        """The trace with this id, or ``None``."""
        return self._run_services.traces.get(trace_id)

    def list_traces(self, /, eval_run_id: str | None = None, test_case_id: str | None = None,
                    thread_id: str | None = None) -> list[dict[str, Any]]:
        """Traces matching every given filter, oldest first.

        Raises:
            ValueError: a filter that is not a non-empty string (or ``None``).
        """
        _check_filters(eval_run_id=eval_run_id, test_case_id=test_case_id, thread_id=thread_id)
        return self._run_services.traces.list(eval_run_id=eval_run_id, test_case_id=test_case_id,
                                 thread_id=thread_id)

    def traces_frame(self, **filters: Any) -> Any:
        """One row per trace as a pandas DataFrame (query it with DuckDB SQL too)."""
        import pandas as pd

        rows = [{k: v for k, v in t.items() if k not in ("events", "spans")}
                | {"events": len(t["events"]), "spans": len(t["spans"])}
                for t in self.list_traces(**filters)]
        return pd.DataFrame(rows)

    # -- references ----------------------------------------------------------------------------
    async def create_reference(self, /, reference: Any, value: Any,
                               glimpse: Any = None) -> dict[str, Any]:
        """Validate and store a value; returns its envelope ``{kind, id, glimpse, ...}``.

        Args:
            reference: a ReferenceSpec or a reference kind name. The spec's glimpse
                callback runs once, on the validated value, before storing.
            value: the JSON-serialisable payload.
            glimpse: an explicit glimpse; without one and without a callback it is ``{}``.
        """
        return self._run_services.refs.create(reference, value, glimpse,
                                             fallback=_EMPTY_GLIMPSE)

    async def resolve_reference(self, /, reference: Any) -> Any:
        """The stored payload of a reference (its JSON form). Awaitable.

        Raises ``ReferenceNotFoundError`` (a KeyError) or ``ReferenceExpiredError``
        (a LookupError) naming the id.
        """
        return self._run_services.refs.resolve(reference)

    async def reference_glimpse(self, /, reference: Any) -> Any:
        """The cached glimpse of a reference, without loading its payload. Awaitable."""
        return self._run_services.refs.glimpse(reference)

    @property
    def references(self) -> ReferencesFacade:
        """The tenant's references without awaiting: ``create``, ``resolve`` and ``glimpse``
        as plain calls (the same object tool handlers get as ``ctx.references``), for code
        that cannot await, such as a widget or a callback."""
        return self._run_services.references

    def list_references(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Envelopes of the tenant's live references (of ``kind``, or all), newest first."""
        return self._run_services.refs.list(kind)

    # -- evals, MCP --------------------------------------------------------------------------------
    async def run_eval(self, /, eval_request: Any, *, progress: bool = False) -> dict[str, Any]:
        """Run an eval request (model, mapping or JSON string); returns the artifact dict.

        Raises ``ValueError`` for an unparseable request or another tenant's request,
        ``RuntimeError`` when the runtime was closed.
        """
        from ..evals import run_eval

        return await run_eval(self, eval_request, progress=progress)

    def stream_eval(self, /, eval_request: Any, *, progress: bool = False) -> Any:
        """Progress envelopes ``{type, evalRunId, seq, data}`` of an eval, ending with
        ``eval-finish`` carrying the artifact. Async iterator; plain ``for`` works too.

        Raises ``ValueError`` at once if the request cannot be parsed, ``RuntimeError``
        when the runtime was closed."""
        self._check_open()
        from ..evals import stream_eval

        return stream_eval(self, eval_request, progress=progress)

    async def serve_mcp_stdio(self, *, mcp_wait_s: float | None = None,
                              approvals: Any = None) -> None:
        """Serve this runtime over MCP on stdin / stdout until the client leaves (SPEC §13).

        Serves every Python tool (with its schemas), the data toolkits' tools when a
        data environment is configured, ``ask`` (the agents), ``wait_for_approval``,
        references as resources and agents as prompts. Each call is a real run. A
        gated call is held open for ``mcp_wait_s`` seconds (default 50), then answers
        ``{status: "pending_approval", approvalId}``. Needs ``flowai_nb[mcp]``.
        """
        from ..mcp import serve_stdio

        await serve_stdio(self, approvals=approvals, **_wait_arg(mcp_wait_s))

    async def serve_mcp_http(self, host: str = "127.0.0.1", port: int = 0,
                             token: str | None = None, *, mcp_wait_s: float | None = None,
                             approvals: Any = None) -> Any:
        """Serve this runtime over MCP Streamable HTTP, as a task on the running loop.

        Returns once listening: a handle with the endpoint ``url`` and ``await
        handle.stop()``. 127.0.0.1 by default; with ``token`` every request needs
        ``Authorization: Bearer <token>``; foreign ``Host`` / ``Origin`` headers are
        refused (421 / 403). What is served: see :meth:`serve_mcp_stdio`.
        """
        from ..mcp import serve_http

        return await serve_http(self, host, port, token, approvals=approvals,
                                **_wait_arg(mcp_wait_s))

    def close(self) -> None:
        """Close the stores, the data environment, external MCP servers and
        provider-served toolkits (see :meth:`aclose` for model providers)."""
        self._run_services.stop_listening()
        self._run_services.tools.close()
        _close_toolkits(self._toolkits)
        if self._data_env is not None:
            self._data_env.close()
            self._data_env = None
        for store in self._stores:
            store.close()
        self._stores = []
        self._closed = True

    async def aclose(self) -> None:
        """Close the interpreters' network clients, then everything :meth:`close` closes."""
        for interpreter in self._interpreters.values():
            await interpreter.aclose()
        self.close()

    def __repr__(self) -> str:
        agents = ", ".join(f"{a.role}:{a.name}" for a in self.spec.agents)
        return (f"<Runtime tenant={self.tenant.key!r} interpreter={self.interpreter.name!r} "
                f"agents=[{agents}] store={self._kv.inner.kind}>")


def _resolve_toolkits(spec: RuntimeSpec) -> dict[str, Toolkit | None]:
    """Every toolkit id an agent uses -> its Toolkit (``None`` for a built-in one).

    Raises ``ValueError`` naming an id nothing provides and the known ids.
    """
    out: dict[str, Toolkit | None] = {}
    try:
        for agent in spec.agents:
            for kit in agent.toolkits:
                if kit not in out:
                    out[kit] = resolve_toolkit(spec.toolkit(kit))
    except BaseException:
        _close_toolkits(out)
        raise
    return out


def _close_toolkits(toolkits: dict[str, Toolkit | None]) -> None:
    for kit in toolkits.values():
        if kit is not None and kit.close is not None:
            result = kit.close()
            if inspect.isawaitable(result):
                _run_sync(result)


def _run_sync(awaitable: Any) -> None:
    import asyncio
    import threading

    async def wait() -> None:
        await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(wait())
        return
    # Inside a running loop (a notebook): finish it on a helper thread.
    thread = threading.Thread(target=asyncio.run, args=(wait(),), daemon=True)
    thread.start()
    thread.join()


def _EMPTY_GLIMPSE(_: Any) -> Any:  # noqa: N802 - a constant callback
    return {}


def _wait_arg(mcp_wait_s: float | None) -> dict[str, Any]:
    return {} if mcp_wait_s is None else {"mcp_wait_s": mcp_wait_s}


def _alive(run: Run) -> bool:
    """Whether ``run`` is a task that can still make progress (its loop is running)."""
    task = run.task
    return task is not None and not task.done() and task.get_loop().is_running()


async def _follow(run: Run) -> None:
    assert run.task is not None
    import asyncio

    await asyncio.shield(run.task)


def _scripted_config(spec: RuntimeSpec) -> Mapping[str, Any]:
    """``providers["scripted"]``, checked: a mapping of ``scripts`` / ``replay`` whose
    scripts name agents of the spec."""
    config = spec.providers.get("scripted")
    if config is None:
        return {}
    expected = ("expected {'scripts': {agent name: [turns]}} and/or {'replay': trace}")
    if not isinstance(config, Mapping):
        raise ValueError(f"providers['scripted'] must be a mapping; got {config!r}; {expected}")
    unknown = sorted(set(config) - {"scripts", "replay"})
    if unknown:
        raise ValueError(f"providers['scripted'] has unknown key(s) {unknown}; {expected}")
    scripts = config.get("scripts")
    if scripts is not None and not isinstance(scripts, Mapping):
        raise ValueError(f"providers['scripted']['scripts'] must map agent names to turns; "
                         f"got {scripts!r}")
    _check_script_agents(scripts or {}, [a.name for a in spec.agents],
                         "providers['scripted']['scripts']")
    return config


_JUDGE = "judge"  # the eval judge's default agent name (EvalConfig.judge_agent)


def _check_script_agents(scripts: Mapping[str, Any], agents: list[str], where: str) -> None:
    unknown = sorted(str(name) for name in scripts if name not in agents and name != _JUDGE)
    if unknown:
        raise ValueError(f"{where} scripts unknown agent(s) {unknown}; the runtime's agents "
                         f"are {agents} (and {_JUDGE!r} scripts the eval judge)")


def _prompt_script(prompt: str, entry: str, agents: list[str]) -> dict[str, Any] | None:
    text = prompt.strip()
    if not (text.startswith("{") and '"script"' in text):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or "script" not in data:
        return None
    from ..interpreters.scripted import validate_script

    script = data["script"]
    if isinstance(script, list):
        return {entry: validate_script(entry, script)}
    if isinstance(script, dict):
        _check_script_agents(script, agents, "the prompt's script")
        return {agent: validate_script(agent, turns) for agent, turns in script.items()}
    raise ValueError(f"prompt script must be a list of turns or {{agent: [turns]}}; "
                     f"got {script!r}")


def _descriptor(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True)
    return value


def _callables(value: Any, what: str) -> list[Callable[..., Any]]:
    if value is None:
        return []
    if callable(value):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        items = list(value)
        for item in items:
            if not callable(item):
                raise TypeError(f"{what} must be callables; got {item!r}")
        return items
    raise TypeError(f"{what} must be a callable or a list of callables; got {value!r}")


def create_runtime(
    spec: RuntimeSpec | Mapping[str, Any],
    *,
    tool_bindings: list[ToolSpec] | None = None,
    services: Mapping[str, Any] | None = None,
    approval_predicates: Mapping[str, Callable[..., Any]] | None = None,
    action_dispatcher: Callable[..., Any] | None = None,
    event_hooks: Iterable[Callable[..., Any]] | Callable[..., Any] | None = None,
    data_environment: Any = None,
    target_database_url: str | None = None,
    testing: TestingConfig | Mapping[str, Any] | None = None,
    interpreter: str | Interpreter = "noop",
) -> Runtime:
    """Build a :class:`Runtime` from a spec plus its Python bindings.

    Args:
        spec: a :class:`RuntimeSpec` (or its wire form).
        tool_bindings: additional ToolSpec values with Python handlers: they bind
            handlers to the spec's tools (for example a spec loaded from JSON)
            and add runtime-level tools. Every tool attached to an agent must
            end up with a handler. (A ``{tool name: handler}`` mapping for
            tools of the spec is accepted too.)
        services: objects tools reach as ``ctx.<name>``.
        approval_predicates: ``{predicate id: predicate(args, info) -> bool}``
            for dynamic approval policies.
        action_dispatcher: ``dispatcher(actions, ctx)`` that applies approved
            plan actions; returns None or ``{"entitiesAffected": int, ...}``.
            ``ctx["idempotency_keys"]`` has one key per action,
            ``"<thread>/<base>@v<n>#<index>"``, unique across the tenant.
        event_hooks: callables (sync or async) called with every event, in order.
        data_environment: a ``DataEnvironmentConfig`` (or mapping) for the
            catalog / sql toolkits and ``ctx.data``.
        target_database_url: shorthand for a data environment with this target.
        testing: ``TestingConfig(mock_response=...)``: every turn answers that text.
        interpreter: ``"noop"`` (default), ``"scripted"`` or ``"anthropic"``, or your own
            :class:`~flowai_nb.interpreters.Interpreter` instance.

    Raises:
        pydantic.ValidationError: the spec or data environment is invalid.
        ValueError: unregistered dynamic predicate, tool without handler,
            ``testing`` with another interpreter, malformed testing config,
            ``target_database_url`` conflicting with ``data_environment``,
            reserved service key, unknown interpreter, missing API key.
        TypeError: services, bindings or data environment of the wrong type.
    """
    if isinstance(spec, Mapping):
        spec = RuntimeSpec.model_validate(spec)
    elif not isinstance(spec, RuntimeSpec):
        raise TypeError(f"spec must be a RuntimeSpec (see define_runtime); "
                        f"got {type(spec).__name__}")
    if isinstance(interpreter, Interpreter):
        if testing is not None:
            raise ValueError("testing=... replaces the interpreter; it cannot be combined with "
                             f"interpreter={interpreter!r}")
    elif not isinstance(interpreter, str) or interpreter not in INTERPRETERS:
        raise ValueError(f"unknown interpreter {interpreter!r}; expected one of {INTERPRETERS} "
                         f"(for a mock response use testing=TestingConfig(mock_response=...))")

    testing_config: TestingConfig | None = None
    if testing is not None:
        if interpreter != "noop":
            raise ValueError(f"testing=... replaces the interpreter; it cannot be combined with "
                             f"interpreter={interpreter!r} (leave interpreter at 'noop')")
        if isinstance(testing, TestingConfig):
            testing_config = testing
        elif isinstance(testing, Mapping):
            try:
                testing_config = TestingConfig.model_validate(testing)
            except ValueError as exc:
                raise ValueError(f"malformed testing config {dict(testing)!r}: expected "
                                 f"{{'mock_response': str}} ({exc.errors()[0]['msg']})"
                                 if hasattr(exc, "errors") else str(exc)) from None
        else:
            raise ValueError(f"malformed testing config {testing!r}: expected "
                             f"TestingConfig(mock_response=...) or {{'mock_response': str}}")

    if services is None:
        services = {}
    if not isinstance(services, Mapping):
        raise TypeError(f"services must be a mapping of name -> object; "
                        f"got {type(services).__name__}")
    for key in services:
        if not isinstance(key, str):
            raise TypeError(f"service names must be strings; got {key!r}")
        if not key:
            raise ValueError("service names must be non-empty strings; got ''")
        if key in RESERVED_SERVICE_KEYS:
            raise ValueError(f"service name {key!r} is reserved (ctx.{key} is built in); "
                             f"reserved names: {sorted(RESERVED_SERVICE_KEYS)}")

    spec, handlers = _bind_tools(spec, tool_bindings)

    predicates: dict[str, Callable[..., Any]] = {}
    for name, tool in spec.tools_by_name.items():
        if tool.predicate is not None:
            predicates[f"tool:{name}"] = tool.predicate
    if approval_predicates is not None and not isinstance(approval_predicates, Mapping):
        raise TypeError(f"approval_predicates must be a mapping of predicate id -> callable; "
                        f"got {type(approval_predicates).__name__}: {approval_predicates!r}")
    for key, predicate in (approval_predicates or {}).items():
        if not callable(predicate):
            raise TypeError(f"approval predicate {key!r} must be callable; got {predicate!r}")
        predicates[key] = predicate
    missing = sorted(spec.dynamic_predicate_ids() - set(predicates))
    if missing:
        raise ValueError(f"dynamic approval polic(ies) name predicate id(s) {missing} with no "
                         f"registered predicate; pass create_runtime(approval_predicates="
                         f"{{id: predicate}})")

    if action_dispatcher is not None and not callable(action_dispatcher):
        raise TypeError(f"action_dispatcher must be callable; got {action_dispatcher!r}")
    hooks = _callables(event_hooks, "event_hooks")

    data_config = _data_environment(spec, data_environment, target_database_url)
    return Runtime(spec, handlers=handlers, services=dict(services), predicates=predicates,
                   dispatcher=action_dispatcher, hooks=hooks, data_environment=data_config,
                   interpreter_name=interpreter, testing=testing_config)


def _bind_tools(spec: RuntimeSpec, tool_bindings: Any
                ) -> tuple[RuntimeSpec, dict[str, Callable[..., Any]]]:
    """Handlers by tool name; extra bound tools are appended to the spec's ``toolBindings``.

    ``tool_bindings`` is a list of bound ToolSpecs (the reference form); a
    ``{name: handler}`` mapping for tools of the spec is accepted too.
    """
    if tool_bindings is None:
        tool_bindings = []
    if isinstance(tool_bindings, Mapping):
        items: list[Any] = []
        for name, handler in tool_bindings.items():
            if isinstance(handler, ToolSpec):
                items.append(handler)
                continue
            if not callable(handler):
                raise TypeError(f"tool binding {name!r} must be callable; got {handler!r}")
            if name not in spec.tools_by_name:
                raise ValueError(f"tool binding {name!r} names no tool of the spec; declared "
                                 f"tools: {sorted(spec.tools_by_name)} (to add a tool, pass "
                                 f"tool_bindings=[ToolSpec, ...])")
            items.append(spec.tool(name).bind(handler))
        tool_bindings = items
    if isinstance(tool_bindings, str | bytes | ToolSpec) or not isinstance(tool_bindings, Iterable):
        raise TypeError(f"tool_bindings must be a list of ToolSpec values with handlers; "
                        f"got {type(tool_bindings).__name__}: {tool_bindings!r}")
    declared = spec.tools_by_name
    handlers: dict[str, Callable[..., Any]] = {
        name: tool.handler for name, tool in declared.items() if tool.handler is not None}
    extra: list[ToolSpec] = []
    for tool in tool_bindings:
        bound_tool(tool, "tool_bindings")
        known = declared.get(tool.name)
        if known is not None and known != tool:
            raise ValueError(f"tool binding {tool.name!r} differs from the spec's tool of that "
                             f"name (description, schema or approval); bind the same ToolSpec")
        if known is None and tool.name not in (t.name for t in extra):
            extra.append(tool)
        handlers[tool.name] = tool.handler
    for agent in spec.agents:
        for tool in agent.tools:
            if tool.name not in handlers:
                raise ValueError(f"tool {tool.name!r} of agent {agent.name!r} has no Python "
                                 f"handler; decorate the handler with @define_tool(...) or pass "
                                 f"create_runtime(tool_bindings=[bound ToolSpec])")
    if extra:
        spec = spec.model_copy(update={"tool_bindings": (*spec.tool_bindings, *extra)})
    return spec, handlers


def _data_environment(spec: RuntimeSpec, data_environment: Any,
                      target_database_url: str | None) -> Any:
    if data_environment is None and target_database_url is None:
        return None
    from ..authoring.data_environment import DataEnvironmentConfig

    if target_database_url is not None and not isinstance(target_database_url, str):
        raise TypeError(f"target_database_url must be a string; "
                        f"got {type(target_database_url).__name__}")
    if data_environment is None:
        config = DataEnvironmentConfig(tenant_id=spec.tenant.resource_id,
                                       target_database_url=target_database_url)
    elif isinstance(data_environment, DataEnvironmentConfig):
        config = data_environment
    elif isinstance(data_environment, Mapping):
        config = DataEnvironmentConfig.model_validate(data_environment)
    else:
        raise TypeError(f"data_environment must be a DataEnvironmentConfig or a mapping; "
                        f"got {type(data_environment).__name__}")
    if target_database_url is not None and data_environment is not None:
        if config.target_database is not None or (
            config.target_database_url is not None
            and reveal(config.target_database_url) != target_database_url
        ):
            raise ValueError(
                f"target_database_url={secret_url(target_database_url)!r} conflicts with the data "
                f"environment's target database; give the target in one place only"
            )
        config = DataEnvironmentConfig.model_validate(
            {**config.model_dump(), "target_database_url": target_database_url})
    config.check_tenant(spec.tenant)
    if config.tenant_id is None:
        config = config.model_copy(update={"tenant_id": spec.tenant.resource_id})
    target = config.target
    if target is not None and target.kind in ("sqlite", "duckdb") \
            and not os.path.isfile(target.path):
        raise FileNotFoundError(
            f"target {target.kind} database file {target.path!r} does not exist (relative "
            f"paths are read from {os.getcwd()!r}); create it or fix the data environment's "
            f"target")
    return config


def _check_filters(**filters: Any) -> None:
    """Each id filter is a non-empty string or ``None``; raise ValueError naming one that
    is not (a wrong type would otherwise just match nothing)."""
    for name, value in filters.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name} must be a non-empty string or None; got {value!r}")
