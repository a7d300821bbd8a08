"""Reference §Studio (lines 364-365)."""

from __future__ import annotations

import flowai_nb as fa

from ._reference import cites
from .conftest import spec


@cites(365, "Studio apps are local registries of one or more workspace runtime bindings.")
def test_a_flowai_app_registers_workspace_runtimes() -> None:
    app = fa.define_app("shop", workspaces=[
        fa.define_workspace_runtime("retail", lambda: fa.create_runtime(spec()))])
    assert isinstance(app, fa.FlowAIApp)
    assert [w.name for w in app.workspaces] == ["retail"]
