"""FlowAIApp: workspace registry behind Studio and MCP (SPEC §15, first paragraph)."""

from __future__ import annotations

import sys
import textwrap

import pytest

import flowai_nb as fa
from flowai_nb.app import load_app


def _runtime():
    spec = fa.define_runtime(fa.define_tenant("acme", "1"), agents=[
        fa.define_coordinator("ops", model="m", prompt="p")])
    return fa.create_runtime(spec)


def test_factory_runs_once_on_first_use():
    calls = []

    def factory():
        calls.append(1)
        return _runtime()

    app = fa.define_app("retail", workspaces=[
        fa.define_workspace_runtime("lisbon", factory, description="Lisbon stores")])
    assert calls == []
    first = app.runtime("lisbon")
    assert app.runtime() is first and calls == [1]
    assert app.workspaces[0].description == "Lisbon stores"
    assert "lisbon" in repr(app)
    app.close()


def test_unknown_workspace_names_the_known_ones():
    app = fa.define_app("retail", workspaces=[fa.define_workspace_runtime("a", _runtime())])
    with pytest.raises(KeyError, match="'b'.*known: 'a'"):
        app.runtime("b")


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="duplicate workspace name 'a'"):
        fa.define_app("x", [fa.define_workspace_runtime("a", _runtime),
                            fa.define_workspace_runtime("a", _runtime)])
    with pytest.raises(ValueError, match="at least one workspace"):
        fa.define_app("x", [])
    with pytest.raises(TypeError, match="expected a Runtime"):
        fa.define_workspace_runtime("a", 5)
    with pytest.raises(TypeError, match="define_workspace_runtime"):
        fa.define_app("x", [_runtime()])
    with pytest.raises(TypeError, match="returned int"):
        fa.define_app("x", [fa.define_workspace_runtime("a", lambda: 3)]).runtime()


def test_load_app_accepts_app_runtime_or_factory(tmp_path, monkeypatch):
    (tmp_path / "myapp_mod.py").write_text(textwrap.dedent("""
        import flowai_nb as fa
        spec = fa.define_runtime(fa.define_tenant("acme", "1"), agents=[
            fa.define_coordinator("ops", model="m", prompt="p")])
        runtime = fa.create_runtime(spec)
        app = fa.define_app("shop", [fa.define_workspace_runtime("main", lambda: runtime)])
        def make():
            return runtime
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert load_app("myapp_mod:app").name == "shop"
        wrapped = load_app("myapp_mod:runtime")
        assert [w.name for w in wrapped.workspaces] == ["default"]
        assert load_app("myapp_mod:make").runtime() is wrapped.runtime()
        with pytest.raises(ValueError, match="module:attribute"):
            load_app("myapp_mod")
        with pytest.raises(ValueError, match="no attribute 'nope'"):
            load_app("myapp_mod:nope")
        with pytest.raises(ValueError, match="cannot import module 'no_such_mod_xyz'"):
            load_app("no_such_mod_xyz:app")
        with pytest.raises(KeyError, match="no workspace 'zz'"):
            load_app("myapp_mod:app", workspace="zz")
    finally:
        sys.modules.pop("myapp_mod", None)
