"""%load_ext / %unload_ext and the magics, on a plain IPython shell."""

from __future__ import annotations

import warnings

import pytest
from IPython.core.interactiveshell import InteractiveShell

from flowai_nb.jupyter import RunHandle, TraceTable, TraceViewer
from flowai_nb.jupyter.extension import load_ipython_extension, unload_ipython_extension

from .fakes import FakeRuntime

EXT = "flowai_nb"


@pytest.fixture
def shell():
    ip = InteractiveShell.instance()
    ip.reset(new_session=False)
    yield ip
    ip.extension_manager.unload_extension(EXT)
    ip.reset(new_session=False)


def _run(ip: InteractiveShell, code: str):
    result = ip.run_cell(code)
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return result.result


def test_load_registers_and_unload_removes_everything(shell) -> None:
    html = shell.display_formatter.formatters["text/html"]
    before = (dict(html.deferred_printers), dict(shell.magics_manager.magics["line"]))
    assert shell.extension_manager.load_extension(EXT) is None
    assert shell.find_cell_magic("flowai") and shell.find_line_magic("flowai_approvals")
    assert shell.find_line_magic("flowai_traces")
    assert ("flowai_nb.engine.runtime", "Runtime") in html.deferred_printers
    shell.extension_manager.unload_extension(EXT)
    assert shell.find_cell_magic("flowai") is None
    assert shell.find_line_magic("flowai_traces") is None
    assert (dict(html.deferred_printers), dict(shell.magics_manager.magics["line"])) == before
    shell.extension_manager.load_extension(EXT)  # and again, cleanly
    assert shell.find_cell_magic("flowai")


def test_old_ipykernel_gets_a_clear_warning(shell, monkeypatch) -> None:
    monkeypatch.setattr("importlib.metadata.version", lambda name: "7.3.0")
    with pytest.warns(RuntimeWarning, match=r"ipykernel 7.3.0 is older than 7.4.*await handle"):
        load_ipython_extension(shell)
    unload_ipython_extension(shell)
    monkeypatch.setattr("importlib.metadata.version", lambda name: "7.4.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_ipython_extension(shell)
    unload_ipython_extension(shell)


def test_flowai_cell_runs_the_prompt_with_the_only_runtime(shell) -> None:
    shell.extension_manager.load_extension(EXT)
    shell.user_ns["rt"] = runtime = FakeRuntime()
    handle = _run(shell, "%%flowai --approvals auto_approve --name h\nrefund order 42\n")
    assert isinstance(handle, RunHandle) and shell.user_ns["h"] is handle
    assert handle.state.prompt == "refund order 42"
    assert handle.status == "completed" and runtime.dispatched == 1


def test_flowai_cell_explains_which_runtime_is_missing(shell) -> None:
    shell.extension_manager.load_extension(EXT)
    with pytest.raises(NameError, match="no flowai Runtime"):
        _run(shell, "%%flowai\nhello\n")
    shell.user_ns.update(a=FakeRuntime(), b=FakeRuntime(), n=3)
    with pytest.raises(NameError, match=r"several flowai Runtimes in the notebook \(a, b\)"):
        _run(shell, "%%flowai\nhello\n")
    with pytest.raises(TypeError, match="'n' is a int, not a flowai Runtime"):
        _run(shell, "%%flowai --runtime n\nhello\n")
    with pytest.raises(ValueError, match="needs a prompt"):
        _run(shell, "%%flowai --runtime a\n\n")


def test_flowai_approvals_lists_pending_cards(shell, capsys) -> None:
    shell.extension_manager.load_extension(EXT)
    shell.user_ns["rt"] = runtime = FakeRuntime()
    _run(shell, "%flowai_approvals")
    assert "No pending approvals." in capsys.readouterr().out
    runtime._requests["a9"] = {"approvalId": "a9", "kind": "tool", "target": "send_email",
                               "payload": {"to": "x"}}
    _run(shell, "%flowai_approvals --runtime rt")
    assert "ApprovalCard(kind='tool', target='send_email', decision='pending')" in (
        capsys.readouterr().out)


def test_flowai_traces_lists_or_shows_one(shell) -> None:
    class Traced(FakeRuntime):
        traces = [{"traceId": "t2", "threadId": "x", "status": "completed", "startedAt": 2000,
                   "endedAt": 2500, "events": [], "spans": []},
                  {"traceId": "t1", "threadId": "x", "status": "failed", "startedAt": 1000,
                   "endedAt": 1100, "events": [], "spans": []}]

        def list_traces(self, eval_run_id=None, test_case_id=None, thread_id=None):
            return [t for t in self.traces if thread_id in (None, t["threadId"])]

        def get_trace(self, trace_id):
            return next((t for t in self.traces if t["traceId"] == trace_id), None)

    shell.extension_manager.load_extension(EXT)
    shell.user_ns["rt"] = Traced()
    table = _run(shell, "%flowai_traces -n 5")
    assert isinstance(table, TraceTable)
    assert [t["traceId"] for t in table.traces] == ["t1", "t2"]  # oldest first
    assert "t1  thread=x  failed  0.10 s  0 events" in repr(table)
    assert isinstance(_run(shell, "%flowai_traces t2"), TraceViewer)
    with pytest.raises(LookupError, match="no trace with id 'zz'"):
        _run(shell, "%flowai_traces zz")


def test_flowai_data_browses_the_catalog_and_shows_sql_results(shell, tmp_path) -> None:
    import flowai_nb as fa
    from flowai_nb.data.sample import make_sample_sqlite
    from flowai_nb.jupyter import DataView

    db = make_sample_sqlite(tmp_path / "retail.db")
    spec = fa.define_runtime(fa.define_tenant("a", "1"),
                             agents=[fa.define_specialist("s", model="m", prompt="p")])
    shell.extension_manager.load_extension(EXT)
    shell.user_ns["rt"] = fa.create_runtime(spec, target_database_url=f"sqlite:///{db}")
    browser = _run(shell, "%flowai_data")
    assert isinstance(browser, DataView) and repr(browser).startswith("DataView(catalog: 4 tables")
    grid = _run(shell, "%flowai_data --page-size 10 SELECT sku FROM products ORDER BY sku")
    assert repr(grid).startswith("DataView(result: 60 rows × 1 columns, rows 1–10 of 60")
    with pytest.raises(Exception, match="DELETE|read-only|SELECT"):
        _run(shell, "%flowai_data DELETE FROM products")


def test_flowai_eval_starts_a_live_eval_view(shell) -> None:
    from flowai_nb.jupyter import EvalView

    shell.extension_manager.load_extension(EXT)
    with pytest.raises(NameError, match="'nope'"):
        _run(shell, "%flowai_eval nope")
    _run(shell, "import flowai_nb as fa\n"
                "from flowai_nb.evals import define_test_case, define_eval_request, "
                "define_eval_config\n"
                "spec = fa.define_runtime(fa.define_tenant('a', '1'), agents=["
                "fa.define_coordinator('c', model='m', prompt='p')])\n"
                "rt = fa.create_runtime(spec, testing=fa.TestingConfig(mock_response='hi'))\n"
                "req = define_eval_request([define_test_case('c1', 'hello')], "
                "define_eval_config(samples_per_case=1))")
    view = _run(shell, "%flowai_eval req --name ev")
    assert isinstance(view, EvalView) and shell.user_ns["ev"] is view
