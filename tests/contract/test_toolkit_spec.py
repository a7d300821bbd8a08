"""Reference §ToolkitSpec (lines 276-283), and the toolkit extension point it implies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import flowai_nb as fa
from flowai_nb.authoring.secrets import reveal

from ._reference import assert_model_matches, cites
from .conftest import drain, run

TENANT = fa.define_tenant("acme", "1")


@fa.define_tool("ticket_open", "Open a support ticket", {"title": str})
def ticket_open(args, ctx):
    return {"ticket": 17, "title": args["title"], "by": ctx.agent}


SUPPORT = fa.define_toolkit("support", tools=[ticket_open], description="Ticketing")
SCRIPT = '{"script": [{"tool": "ticket_open", "args": {"title": "printer"}}, {"text": "ok"}]}'


@cites(277, "ToolkitSpec(*, id: Annotated[str, MinLen(min_length=1)], config:")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.ToolkitSpec, 277)


@cites(277, "id: Annotated[str, MinLen(min_length=1)], config: typing.Any | None = None")
def test_any_non_empty_id_and_any_config_are_accepted() -> None:
    assert fa.ToolkitSpec(id="github", config=["anything", 1]).config == ["anything", 1]
    assert fa.ToolkitSpec(id="x").config is None
    with pytest.raises(ValidationError):
        fa.ToolkitSpec(id="")


@cites(283, "Toolkit declaration by stable identifier.")
@pytest.mark.parametrize("attach", [SUPPORT, "support", fa.ToolkitSpec(id="support")])
def test_a_custom_toolkit_attaches_by_spec_or_id(attach) -> None:
    spec = fa.define_runtime(TENANT, agents=[
        fa.define_specialist("desk", model="m", prompt="p", toolkits=[attach])])
    assert spec.agents[0].toolkits == ["support"]
    assert "| ticket_open | title |" in spec.agents[0].system_prompt
    rt = fa.create_runtime(spec, interpreter="scripted")
    events = run(drain(rt.run_specialist("desk", SCRIPT)))
    assert {"ticket": 17, "title": "printer", "by": "desk"} in [e.get("result") for e in events]


@cites(283, "Toolkit declaration by stable identifier.")
def test_an_id_nothing_provides_fails_at_create_runtime_naming_the_known_ids() -> None:
    spec = fa.define_runtime(TENANT, agents=[
        fa.define_specialist("s", model="m", prompt="p", toolkits=["warehouse"])])
    with pytest.raises(ValueError, match=r"'warehouse'.*'catalog'.*'support'"):
        fa.create_runtime(spec)


@cites(283, "Toolkit declaration by stable identifier.")
def test_a_provider_serves_toolkits_whose_config_names_it() -> None:
    closed = []

    def provide(spec: fa.ToolkitSpec) -> fa.Toolkit:
        @fa.define_tool("echo", "Echo", {"text": str})
        def echo(args, ctx):
            return {"echo": args["text"], "prefix": spec.config["echo"]["prefix"],
                    "token": reveal(spec.config["echo"]["token"])}

        return fa.Toolkit(id=spec.id, tools=(echo,), close=lambda: closed.append(spec.id))

    fa.register_toolkit_provider("echo", provide)
    kit = fa.ToolkitSpec(id="shouter", config={"echo": {"prefix": ">", "token": "t0k"}})
    assert "t0k" not in repr(kit) and "t0k" not in kit.model_dump_json()
    spec = fa.define_runtime(TENANT, toolkits=[kit], agents=[
        fa.define_specialist("s", model="m", prompt="p", toolkits=["shouter"])])
    rt = fa.create_runtime(spec, interpreter="scripted")
    events = run(drain(rt.run_specialist(
        "s", '{"script": [{"tool": "echo", "args": {"text": "hi"}}, {"text": "ok"}]}')))
    assert {"echo": "hi", "prefix": ">", "token": "t0k"} in [e.get("result") for e in events]
    rt.close()
    assert closed == ["shouter"]


@cites(283, "Toolkit declaration by stable identifier.")
def test_custom_toolkits_cannot_take_built_in_ids_or_unbound_tools() -> None:
    with pytest.raises(ValueError, match="built in"):
        fa.define_toolkit("sql", tools=[ticket_open])
    with pytest.raises(ValueError, match="no Python handler"):
        fa.define_toolkit("bad", tools=[fa.define_tool("t", "T", {})])
    with pytest.raises(TypeError, match="ToolSpec"):
        fa.define_toolkit("bad", tools=[print])
