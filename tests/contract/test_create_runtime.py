"""Reference §create_runtime (lines 125-187)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import flowai_nb as fa

from ._reference import assert_function_matches, cites
from .conftest import BODY, drain, run, spec, stock_level


@cites(126, "create_runtime(spec: 'RuntimeSpec | Mapping[str, Any]', *, tool_bindings:")
def test_signature() -> None:
    assert_function_matches(fa.create_runtime, 126)


@cites(147, "spec: RuntimeSpec or mapping validated as one.")
def test_a_mapping_spec_is_validated_as_a_runtime_spec() -> None:
    wire = spec().model_dump(by_alias=True)
    rt = fa.create_runtime(wire, tool_bindings=[stock_level])
    assert isinstance(rt.spec, fa.RuntimeSpec)
    with pytest.raises(ValidationError):
        fa.create_runtime({"tenant": {"resourceId": "a"}})


@cites(144, "The runtime tenant comes from")
def test_the_tenant_comes_from_the_spec() -> None:
    rt = fa.create_runtime(spec())
    assert rt.tenant == fa.define_tenant("acme", "1")


@cites(148, "tool_bindings: Additional ToolSpec values with Python handlers.")
def test_tool_bindings_are_a_list_of_tool_specs_and_may_add_tools() -> None:
    @fa.define_tool("ping", "Answer pong", {})
    def ping(args, ctx):
        return "pong"

    rt = fa.create_runtime(spec(), tool_bindings=[ping])
    assert [t.name for t in rt.spec.tool_bindings] == ["stock_level", "ping"]
    assert rt.spec.tool("ping").handler is not None


@cites(150, "bound to an agent must carry a handler.")
def test_an_agent_tool_without_handler_is_a_value_error() -> None:
    wire = spec().model_dump(by_alias=True)  # handlers do not travel in the wire form
    with pytest.raises(ValueError, match="stock_level"):
        fa.create_runtime(wire)
    rt = fa.create_runtime(wire, tool_bindings=[stock_level], interpreter="scripted")
    events = run(drain(rt.run_specialist(
        "analyst", '{"script": [{"tool": "stock_level", "args": {"sku": "B"}}, {"text": "ok"}]}')))
    assert {"sku": "B", "units": 3} in [e.get("result") for e in events]


@cites(149, "Agent-attached tools are registered automatically; every tool")
def test_agent_attached_tools_need_no_binding() -> None:
    rt = fa.create_runtime(spec(), interpreter="scripted")
    events = run(drain(rt.run_specialist(
        "analyst", '{"script": [{"tool": "stock_level", "args": {"sku": "A"}}, {"text": "ok"}]}')))
    assert {"sku": "A", "units": 3} in [e.get("result") for e in events]


@cites(152, 'the tool context (ctx.<name>, ctx["<name>"]). Keys must')
def test_services_reach_tools_as_attributes_and_items() -> None:
    seen = []

    @fa.define_tool("who", "Uses services", {})
    def who(args, ctx):
        seen.append((ctx.directory, ctx["directory"], ctx.agent))
        return "ok"

    s = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_specialist("s", model="m", prompt="p", tools=[who])])
    rt = fa.create_runtime(s, services={"directory": {"bob": 1}}, interpreter="scripted")
    run(drain(rt.run_specialist("s", '{"script": [{"tool": "who", "args": {}}, {"text": "x"}]}')))
    assert seen == [({"bob": 1}, {"bob": 1}, "s")]


@cites(153, "be non-empty strings and must not use the reserved names")
@pytest.mark.parametrize("key", ["tool_use_id", "services", "references", ""])
def test_reserved_and_empty_service_keys_are_value_errors(key: str) -> None:
    with pytest.raises(ValueError, match=repr(key)):
        fa.create_runtime(spec(), services={key: object()})


@cites(154, "tool_use_id, services, or references.")
@pytest.mark.parametrize("key", ["data", "agent", "thread_id", "run_id", "kv"])
def test_other_names_are_ordinary_services(key: str) -> None:
    seen = []

    @fa.define_tool("look", "Reads a service", {})
    def look(args, ctx):
        seen.append((getattr(ctx, key), ctx[key]))
        return "ok"

    s = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_specialist("s", model="m", prompt="p", tools=[look])])
    rt = fa.create_runtime(s, services={key: "mine"}, interpreter="scripted")
    run(drain(rt.run_specialist("s", '{"script": [{"tool": "look", "args": {}}, {"text": "x"}]}')))
    assert seen == [("mine", "mine")]


@cites(184, "TypeError: If services or data-environment values have invalid")
@pytest.mark.parametrize("kw", [
    {"services": ["directory"]}, {"services": {1: "x"}}, {"data_environment": 42},
    {"target_database_url": 5}, {"approval_predicates": [lambda args, info: True]},
    {"tool_bindings": 5}, {"tool_bindings": [print]}, {"event_hooks": [1]},
    {"action_dispatcher": "dispatch"},
])
def test_values_of_the_wrong_type_are_type_errors(kw: dict) -> None:
    with pytest.raises(TypeError):
        fa.create_runtime(spec(), **kw)


@cites(155, "approval_predicates: Dynamic approval predicates keyed by predicate")
def test_a_dynamic_policy_asks_its_predicate() -> None:
    asked = []

    def big(plan, info):  # a plans-channel predicate sees the stored plan
        asked.append(info["kind"])
        return sum(a["payload"]["units"] for a in plan["actions"]) > 10

    s = spec(approval_policies={"plans": {"kind": "dynamic", "value": "big"}, "tools": "never"})
    scripts = {"planner": [{"tool": "store_plan", "args": {"plan_id": "p", "body": BODY}},
                           {"text": "ok"}],
               "executor": [{"tool": "execute_plan", "args": {"plan_id": "p"}}, {"text": "ok"}]}
    s = s.model_copy(update={"providers": {"scripted": {"scripts": scripts}}})
    rt = fa.create_runtime(s, interpreter="scripted", approval_predicates={"big": big},
                           action_dispatcher=lambda actions, ctx: None)
    run(drain(rt.run_agent("planner", "x", thread_id="a")))
    events = run(drain(rt.run_agent("executor", "x", thread_id="b")))
    assert asked == ["plan"] and "approval-required" not in [e["type"] for e in events]


@cites(179, "ValueError: If a dynamic approval predicate is not registered, an")
def test_an_unregistered_predicate_is_a_value_error_naming_it() -> None:
    s = spec(approval_policies={"plans": {"kind": "dynamic", "value": "big"}})
    with pytest.raises(ValueError, match="big"):
        fa.create_runtime(s)


@cites(158, "action_dispatcher: Callable that receives executor business actions")
def test_the_dispatcher_receives_approved_actions() -> None:
    received = []
    scripts = {"planner": [{"tool": "store_plan", "args": {"plan_id": "p", "body": BODY}},
                           {"text": "ok"}],
               "executor": [{"tool": "execute_plan", "args": {"plan_id": "p"}}, {"text": "ok"}]}
    rt = fa.create_runtime(spec(scripts), interpreter="scripted",
                           action_dispatcher=lambda actions, ctx: received.append(actions))
    run(drain(rt.run_agent("planner", "x", thread_id="a")))
    run(drain(rt.run_agent("executor", "x", thread_id="b", approvals="auto_approve")))
    assert received == [[{"kind": "restock", "payload": {"sku": "A", "units": 4},
                          "references": []}]]


@cites(160, "event_hooks: Callables invoked for each runtime event during")
def test_event_hooks_see_every_event_in_order() -> None:
    seen: list[dict] = []
    rt = fa.create_runtime(spec({"router": [{"text": "hi"}]}), interpreter="scripted",
                           event_hooks=[seen.append])
    events = run(drain(rt.query("x", "t")))
    assert [e["seq"] for e in seen] == [e["seq"] for e in events]


@cites(165, "target_database_url: Shorthand for")
def test_target_database_url_is_a_data_environment_shorthand(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE sales (sku TEXT, units INT)")
    rt = fa.create_runtime(spec(), target_database_url=f"sqlite:///{path}")
    assert rt.data_environment_config.target_database_url == f"sqlite:///{path}"
    assert rt.data_environment_config.tenant_id == "acme"
    assert [t["table"] for t in rt.data.list_tables()["tables"]] == ["sales"]
    rt.close()


@cites(167, "explicit target_database descriptor or a differing")
def test_a_conflicting_target_database_url_is_a_value_error(tmp_path) -> None:
    import sqlite3

    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for path in (a, b):
        sqlite3.connect(path).close()
    env = {"target_database": {"kind": "sqlite", "path": str(a)}}
    with pytest.raises(ValueError, match="conflicts"):
        fa.create_runtime(spec(), data_environment=env, target_database_url=f"sqlite:///{b}")
    env = {"target_database_url": f"sqlite:///{a}"}
    with pytest.raises(ValueError, match="conflicts"):
        fa.create_runtime(spec(), data_environment=env, target_database_url=f"sqlite:///{b}")
    same = fa.create_runtime(spec(), data_environment=env, target_database_url=f"sqlite:///{a}")
    assert same.data_environment_config.target_database_url == f"sqlite:///{a}"


@cites(186, "pydantic.ValidationError: If spec or data_environment fail")
def test_an_invalid_data_environment_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="catalgo"):
        fa.create_runtime(spec(), data_environment={"catalgo": "empty"})


@cites(169, "testing: TestingConfig with mock_response. Runs the")
def test_testing_runs_the_mock_interpreter() -> None:
    rt = fa.create_runtime(spec(), testing=fa.TestingConfig(mock_response="canned answer"))
    events = run(drain(rt.query("anything", "t")))
    assert events[-1]["text"] == "canned answer"


@cites(181, "with a non-default interpreter, the testing config is")
def test_testing_with_another_interpreter_or_malformed_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="scripted"):
        fa.create_runtime(spec(), testing=fa.TestingConfig(mock_response="x"),
                          interpreter="scripted")
    with pytest.raises(ValueError, match="malformed"):
        fa.create_runtime(spec(), testing={"mock": "x"})


@cites(172, "interpreter: Model interpreter key: \"noop\" (default, no")
def test_interpreter_keys() -> None:
    assert fa.create_runtime(spec()).interpreter.name == "noop"
    assert fa.create_runtime(spec(), interpreter="scripted").interpreter.name == "scripted"
    with pytest.raises(ValueError, match="'gpt'"):
        fa.create_runtime(spec(), interpreter="gpt")  # type: ignore[arg-type]
