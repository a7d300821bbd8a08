"""The ``%%flowai``, ``%flowai_approvals``, ``%flowai_traces`` and ``%flowai_studio`` magics."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

_RUNTIME_METHODS = ("query", "respond_to_approval", "pending_approvals")


def _is_runtime(value: Any) -> bool:
    return all(callable(getattr(type(value), name, None)) for name in _RUNTIME_METHODS)


@magics_class
class FlowAIMagics(Magics):
    """Magics that start runs and show approvals and traces of a flowai Runtime."""

    def _runtime(self, name: str | None) -> Any:
        namespace = self.shell.user_ns
        if name:
            if name not in namespace:
                raise NameError(f"--runtime {name!r}: no variable of that name in the notebook")
            if not _is_runtime(namespace[name]):
                raise TypeError(
                    f"--runtime {name!r} is a {type(namespace[name]).__name__}, not a flowai "
                    "Runtime (create one with flowai_nb.create_runtime(...))"
                )
            return namespace[name]
        found = sorted(
            key for key, value in namespace.items()
            if not key.startswith("_") and _is_runtime(value)
        )
        unique = {id(namespace[key]) for key in found}
        if not found:
            raise NameError(
                "no flowai Runtime in the notebook: create one with "
                "rt = flowai_nb.create_runtime(...) or pass --runtime NAME"
            )
        if len(unique) > 1:
            raise NameError(
                f"several flowai Runtimes in the notebook ({', '.join(found)}); "
                "pick one with --runtime NAME"
            )
        return namespace[found[0]]

    @magic_arguments()
    @argument("--runtime", "-r", default=None, help="variable holding the Runtime")
    @argument("--thread", "-t", default=None, help="conversation thread id (default: a new thread)")
    @argument("--specialist", "-s", default=None, help="run this specialist directly")
    @argument(
        "--approvals", "-a", default=None,
        help="headless approval policy: auto_approve or auto_reject (default: click the cards)",
    )
    @argument("--name", "-n", default=None, help="also store the run handle in this variable")
    @cell_magic
    def flowai(self, line: str, cell: str) -> Any:
        """Run the cell body as a prompt in the background and show the live run view.

        Usage: ``%%flowai [--runtime NAME] [--thread ID] [--specialist NAME]
        [--approvals POLICY] [--name VAR]``. Without ``--runtime`` the only
        Runtime in the notebook's namespace is used. ``await`` the handle
        (``--name``) in a later cell to wait for the run.
        """
        from .handle import run

        args = parse_argstring(self.flowai, line)
        prompt = cell.strip()
        if not prompt:
            raise ValueError("%%flowai needs a prompt in the cell body")
        handle = run(
            self._runtime(args.runtime), prompt, thread_id=args.thread,
            approvals=args.approvals, specialist=args.specialist,
        )
        if args.name:
            self.shell.user_ns[args.name] = handle
        return handle

    @magic_arguments()
    @argument("--runtime", "-r", default=None, help="variable holding the Runtime")
    @line_magic
    def flowai_approvals(self, line: str) -> None:
        """Show the runtime's pending approvals as approval cards (each names its run,
        thread and prompt)."""
        from .widgets import ApprovalCard

        args = parse_argstring(self.flowai_approvals, line)
        runtime = self._runtime(args.runtime)
        pending = runtime.pending_approvals()
        if not pending:
            print("No pending approvals.")
            return
        for request in pending:
            display(ApprovalCard({"prompt": _run_prompt(runtime, request.get("runId")), **request},
                                 runtime=runtime))

    @magic_arguments()
    @argument("--runtime", "-r", default=None, help="variable holding the Runtime")
    @argument("--limit", "-n", type=int, default=10, help="how many recent traces to list")
    @argument("--thread", "-t", default=None, help="only traces of this thread")
    @argument("trace_id", nargs="?", default=None, help="show this trace in the trace viewer")
    @line_magic
    def flowai_traces(self, line: str) -> Any:
        """List recent traces, or show one (``%flowai_traces TRACE_ID``) in the trace viewer."""
        from .widgets import TraceTable, TraceViewer

        args = parse_argstring(self.flowai_traces, line)
        runtime = self._runtime(args.runtime)
        if args.trace_id:
            return TraceViewer.from_runtime(runtime, args.trace_id)
        traces = sorted(
            runtime.list_traces(thread_id=args.thread), key=lambda t: t.get("startedAt") or 0
        )
        return TraceTable(traces[-args.limit:] if args.limit > 0 else traces)

    @magic_arguments()
    @argument("--runtime", "-r", default=None, help="variable holding the Runtime")
    @argument("--page-size", type=int, default=50, help="rows per page of a result grid")
    @argument("source", nargs="*", help="a variable holding a result or DataFrame, or SQL text")
    @line_magic
    def flowai_data(self, line: str) -> Any:
        """Browse the data catalog (no argument), or show a result variable / SQL in a grid."""
        from .widgets.data_view import DataView

        args = parse_argstring(self.flowai_data, line)
        source, runtime = " ".join(args.source).strip(), self._runtime(args.runtime)
        if not source:
            return DataView(runtime)
        if source.isidentifier() and source in self.shell.user_ns:
            value = self.shell.user_ns[source]
        else:
            if runtime.data is None:
                raise ValueError("%flowai_data: this runtime has no data environment; create it "
                                 "with target_database_url=... or data_environment=...")
            value = runtime.data.run_sql(source, limit=100_000)
        return DataView.for_result(value, runtime=runtime, page_size=args.page_size)

    @magic_arguments()
    @argument("--runtime", "-r", default=None, help="variable holding the Runtime")
    @argument("--name", "-n", default=None, help="also store the eval view in this variable")
    @argument("request", help="variable holding an EvalRequest (or its dict / JSON form)")
    @line_magic
    def flowai_eval(self, line: str) -> Any:
        """Run an eval in the background and show its live view (``await VAR`` for the artifact)."""
        from .widgets.eval_view import eval_view

        args = parse_argstring(self.flowai_eval, line)
        if args.request not in self.shell.user_ns:
            raise NameError(f"%flowai_eval {args.request!r}: no variable of that name")
        view = eval_view(self._runtime(args.runtime), self.shell.user_ns[args.request])
        if args.name:
            self.shell.user_ns[args.name] = view
        return view

    @line_magic
    def flowai_studio(self, line: str) -> Any:
        """Show the link to Studio in this Jupyter server (``<base_url>flowai-studio/``)."""
        from ..studio.jupyter import studio_link

        if line.strip():
            raise ValueError("%flowai_studio takes no arguments; to serve another app run "
                             "`flowai-nb studio module:app` in a terminal")
        return studio_link()


def _run_prompt(runtime: Any, run_id: Any) -> str | None:
    """The prompt of a paused run, from the run record the runtime keeps for resuming."""
    kv = getattr(runtime, "_kv", None)
    if not run_id or kv is None:
        return None
    try:
        record = kv.get(f"runs/{run_id}")
    except Exception:  # a store that cannot answer: the card just omits the prompt
        return None
    return record.get("prompt") if isinstance(record, dict) else None
