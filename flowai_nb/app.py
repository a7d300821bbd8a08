"""Studio apps: local registries of workspace runtime bindings.

A :class:`FlowAIApp` names one or more workspaces, each bound to a
:class:`~flowai_nb.Runtime` or to a zero-argument factory that builds one on
first use. The ``flowai-nb studio`` and ``flowai-nb mcp`` commands import an
app (or a bare runtime) by ``module:attribute``::

    # app.py
    import flowai_nb as fa

    app = fa.define_app("retail", workspaces=[
        fa.define_workspace_runtime("lisbon", make_lisbon_runtime,
                                    description="Lisbon stores, read-only"),
    ])

    # shell
    flowai-nb studio app:app

This module is pure bookkeeping: it never imports the engine, so defining an
app costs nothing until a workspace's runtime is first asked for.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FlowAIApp", "WorkspaceRuntime", "define_app", "define_workspace_runtime", "load_app"]


@dataclass(frozen=True)
class WorkspaceRuntime:
    """One workspace of an app: a name, a runtime (or its factory) and a description.

    Build it with :func:`define_workspace_runtime`.
    """

    name: str
    runtime_or_factory: Any
    description: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _built: list[Any] = field(default_factory=list, repr=False, compare=False)

    def runtime(self) -> Any:
        """The bound runtime; a factory is called once, on first use."""
        target = self.runtime_or_factory
        if _is_runtime(target):
            return target
        with self._lock:
            if not self._built:
                built = target()
                if not _is_runtime(built):
                    raise TypeError(
                        f"the factory of workspace {self.name!r} returned "
                        f"{type(built).__name__}, expected a flowai_nb Runtime "
                        "(return the value of fa.create_runtime(...))")
                self._built.append(built)
            return self._built[0]

    @property
    def started(self) -> bool:
        """Whether the runtime exists yet (always true for a bound runtime)."""
        return _is_runtime(self.runtime_or_factory) or bool(self._built)


def define_workspace_runtime(name: str, runtime_or_factory: Any,
                             description: str | None = None) -> WorkspaceRuntime:
    """Bind a workspace ``name`` to a Runtime, or to a zero-argument factory returning one.

    A factory is called the first time the workspace is used, so importing an
    app module that defines several workspaces opens no stores or databases.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"workspace name must be a non-empty string, got {name!r}")
    if "/" in name or name in (".", "..") or not name.isprintable():
        raise ValueError(f"workspace name {name!r} may not contain '/' or non-printable "
                         "characters, nor be '.' or '..' (it is part of Studio's and MCP's URLs)")
    if not (_is_runtime(runtime_or_factory) or callable(runtime_or_factory)):
        raise TypeError(
            f"workspace {name!r}: expected a Runtime or a zero-argument callable returning "
            f"one, got {type(runtime_or_factory).__name__}")
    if description is not None and not isinstance(description, str):
        raise TypeError(f"workspace {name!r}: description must be a string or None, "
                        f"got {type(description).__name__}")
    return WorkspaceRuntime(name, runtime_or_factory, description)


class FlowAIApp:
    """A local registry of workspace runtime bindings, served by Studio and MCP.

    Build it with :func:`define_app`. ``app.runtime(name)`` returns the
    workspace's runtime (building it on first use); with one workspace the
    name may be omitted.
    """

    def __init__(self, name: str, workspaces: Iterable[WorkspaceRuntime]) -> None:
        self.name = name
        self._workspaces: dict[str, WorkspaceRuntime] = {}
        for workspace in workspaces:
            if not isinstance(workspace, WorkspaceRuntime):
                raise TypeError(
                    f"app {name!r}: workspaces must come from define_workspace_runtime(...), "
                    f"got {type(workspace).__name__}")
            if workspace.name in self._workspaces:
                raise ValueError(f"app {name!r}: duplicate workspace name {workspace.name!r}")
            self._workspaces[workspace.name] = workspace
        if not self._workspaces:
            raise ValueError(f"app {name!r} needs at least one workspace")

    @property
    def workspaces(self) -> list[WorkspaceRuntime]:
        """The workspaces, in declaration order."""
        return list(self._workspaces.values())

    @property
    def default_workspace(self) -> str:
        """The first workspace's name."""
        return next(iter(self._workspaces))

    def workspace(self, name: str | None = None) -> WorkspaceRuntime:
        """The workspace called ``name`` (the first one when ``None``)."""
        if name is None:
            name = self.default_workspace
        try:
            return self._workspaces[name]
        except KeyError:
            known = ", ".join(repr(n) for n in self._workspaces)
            raise KeyError(f"app {self.name!r} has no workspace {name!r}; known: {known}") from None

    def runtime(self, workspace: str | None = None) -> Any:
        """The runtime bound to ``workspace`` (the first workspace when ``None``)."""
        return self.workspace(workspace).runtime()

    def close(self) -> None:
        """Close every runtime this app has built or was given."""
        for workspace in self._workspaces.values():
            if workspace.started:
                workspace.runtime().close()

    def __repr__(self) -> str:
        names = ", ".join(self._workspaces)
        return f"FlowAIApp({self.name!r}, workspaces=[{names}])"


def define_app(name: str, workspaces: Iterable[WorkspaceRuntime]) -> FlowAIApp:
    """A :class:`FlowAIApp` called ``name`` over ``workspaces``.

    ``workspaces`` are values of :func:`define_workspace_runtime`; names must
    be unique and there must be at least one.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"app name must be a non-empty string, got {name!r}")
    if isinstance(workspaces, (str, bytes)) or not isinstance(workspaces, Iterable):
        raise TypeError(f"app {name!r}: workspaces must be a list of define_workspace_runtime(...)"
                        f" values, got {type(workspaces).__name__}")
    return FlowAIApp(name, workspaces)


def load_app(target: str, *, workspace: str | None = None) -> FlowAIApp:
    """Import ``module:attribute`` and return it as a :class:`FlowAIApp`.

    The attribute may be a FlowAIApp, a Runtime (wrapped as a one-workspace
    app named after the module), or a zero-argument callable returning either.
    ``workspace``, when given, must name one of the app's workspaces. The
    current directory is importable, as with ``python -m``.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected APP as 'module:attribute' (e.g. 'app:app'), got {target!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0] and exc.name != module_name:
            raise
        raise ValueError(f"cannot import module {module_name!r} named in {target!r}: "
                         f"run from the folder that holds it, or install it") from None
    value: Any = module
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(value, FlowAIApp) and not _is_runtime(value) and callable(value):
        value = value()
    if _is_runtime(value):
        value = FlowAIApp(module_name, [WorkspaceRuntime("default", value)])
    if not isinstance(value, FlowAIApp):
        raise TypeError(f"{target!r} is {type(value).__name__}; expected a FlowAIApp "
                        "(fa.define_app(...)) or a Runtime (fa.create_runtime(...))")
    if workspace is not None:
        value.workspace(workspace)  # raises naming the known workspaces
    return value


def _is_runtime(value: Any) -> bool:
    engine = sys.modules.get("flowai_nb.engine.runtime")
    return engine is not None and isinstance(value, engine.Runtime)

