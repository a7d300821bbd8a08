"""The ``ctx`` a tool handler (and the action dispatcher) receives."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["ToolContext", "ReferencesFacade", "RESERVED_SERVICE_KEYS"]

RESERVED_SERVICE_KEYS = frozenset({"tool_use_id", "services", "references"})
"""Service names ``create_runtime`` refuses: they would hide a ``ctx`` attribute tools rely on."""

class ReferencesFacade:
    """``ctx.references``: create, resolve and glimpse references from inside a tool."""

    __slots__ = ("_store",)

    def __init__(self, store: Any) -> None:
        self._store = store

    def create(self, reference: Any, value: Any, glimpse: Any = None) -> dict[str, Any]:
        """Store ``value`` as a reference of kind ``reference``; return the envelope.

        Without an explicit ``glimpse`` or a glimpse callback the glimpse is
        ``{}``, as with ``runtime.create_reference``.
        """
        return self._store.create(reference, value, glimpse, fallback=lambda _: {})

    def resolve(self, envelope: Any) -> Any:
        """The stored payload of a reference."""
        return self._store.resolve(envelope)

    def glimpse(self, envelope: Any) -> Any:
        """The cached glimpse of a reference."""
        return self._store.glimpse(envelope)

    def __repr__(self) -> str:
        return "<ctx.references: create / resolve / glimpse>"


class ToolContext(Mapping[str, Any]):
    """What a tool handler gets as ``ctx``.

    Services are reachable as attributes and items (``ctx.directory``,
    ``ctx["directory"]``). Also: ``ctx.tool_use_id``, ``ctx.services``,
    ``ctx.references``, ``ctx.data`` (the data environment, when configured),
    ``ctx.kv`` (the tenant's key-value store), ``ctx.agent``,
    ``ctx.thread_id`` and ``ctx.run_id``. The action dispatcher's ``ctx``
    additionally has ``ctx["resolved_refs"]``, ``ctx["plan"]`` (the plan record, with
    its ``threadId``) and ``ctx["idempotency_keys"]``: one per dispatched action,
    ``"<thread>/<base>@v<n>#<index>"`` (plan versions are per thread, so the thread
    is part of the key), unique across the tenant; dedup on them.

    Only ``tool_use_id``, ``services`` and ``references`` are reserved service
    names (as in the reference). A service named ``data``, ``kv``, ``agent``,
    ``thread_id`` or ``run_id`` is what ``ctx.<name>`` returns: the one you
    registered wins over the built-in of that name.
    """

    def __init__(self, *, services: Mapping[str, Any], tool_use_id: str | None,
                 references: ReferencesFacade, data_provider: Any, kv: Any, agent: str,
                 thread_id: str, run_id: str, extra: Mapping[str, Any] | None = None) -> None:
        self.services = services
        self.tool_use_id = tool_use_id
        self.references = references
        self._builtins = {"kv": kv, "agent": agent, "thread_id": thread_id, "run_id": run_id}
        self._data_provider = data_provider
        self._extra = dict(extra or {})

    def builtin(self, name: str) -> Any:
        """The built-in ``data``, ``kv``, ``agent``, ``thread_id`` or ``run_id``, even
        when a service of that name shadows it."""
        if name == "data":
            return self._data_provider() if self._data_provider is not None else None
        return self._builtins[name]

    @property
    def data(self) -> Any:
        """The data environment (``DataEnvironment``); ``None`` when none is configured."""
        return self.services["data"] if "data" in self.services else self.builtin("data")

    @property
    def kv(self) -> Any:
        """The tenant's key-value store (``kv_get``/``kv_put`` see the same entries)."""
        return self.services["kv"] if "kv" in self.services else self.builtin("kv")

    @property
    def agent(self) -> Any:
        """The name of the agent calling the tool."""
        return self.services["agent"] if "agent" in self.services else self.builtin("agent")

    @property
    def thread_id(self) -> Any:
        """The run's conversation thread."""
        return self.services.get("thread_id", self._builtins["thread_id"])

    @property
    def run_id(self) -> Any:
        """The run's id."""
        return self.services.get("run_id", self._builtins["run_id"])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        services = self.__dict__.get("services", {})
        if name in services:
            return services[name]
        raise AttributeError(
            f"ctx has no service {name!r}; services: {sorted(services)} "
            f"(pass them with create_runtime(services={{...}}))"
        )

    def __getitem__(self, key: str) -> Any:
        if key in self._extra:
            return self._extra[key]
        if key in self.services:
            return self.services[key]
        raise KeyError(f"ctx has no item {key!r}; services: {sorted(self.services)}")

    def __iter__(self) -> Iterator[str]:
        yield from self._extra
        yield from (k for k in self.services if k not in self._extra)

    def __len__(self) -> int:
        return len(set(self._extra) | set(self.services))

    def __repr__(self) -> str:
        return (f"<ToolContext agent={self._builtins['agent']!r} "
                f"thread={self._builtins['thread_id']!r} "
                f"services={sorted(self.services)}>")
