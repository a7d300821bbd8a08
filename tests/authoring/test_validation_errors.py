"""Every validation error of SPEC §2.1.

Each test checks the error type and that the message names the bad value.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import flowai_nb as fa

T = fa.define_tenant("acme", "1")


def coord(name: str = "router", **kw) -> fa.AgentSpec:
    return fa.define_coordinator(name, model="m", prompt="p", **kw)


def spec_of(*agents: fa.AgentSpec, **kw) -> fa.RuntimeSpec:
    return fa.define_runtime(T, agents=list(agents), **kw)


def spec_error(*agents: fa.AgentSpec, **kw) -> str:
    with pytest.raises(ValidationError) as info:
        spec_of(*agents, **kw)
    return str(info.value)


def test_duplicate_agent_names() -> None:
    a = fa.define_specialist("twin", model="m", prompt="p")
    assert "'twin'" in spec_error(a, a)


def test_more_than_one_coordinator() -> None:
    message = spec_error(coord("c1"), coord("c2"))
    assert "c1" in message and "c2" in message and "coordinator" in message


def test_route_to_unknown_agent() -> None:
    assert "'ghost'" in spec_error(coord(routes=["ghost"]))


def test_duplicate_route() -> None:
    s = fa.define_specialist("s", model="m", prompt="p")
    message = spec_error(coord(routes=["s", "s"]), s)
    assert "duplicate route 's'" in message


def test_route_to_itself() -> None:
    assert "'router' routes to itself" in spec_error(coord(routes=["router"]))


def test_overrides_naming_unknown_agent() -> None:
    message = spec_error(coord(), approval_overrides={"tools": {"nobody": {"x": "always"}}})
    assert "nobody" in message
    message = spec_error(coord(), approval_overrides={"agents": {"phantom": {"plans": "never"}}})
    assert "phantom" in message


def test_two_coordinators_supplying_policies() -> None:
    message = spec_error(coord("c1", approval={"plans": "never"}),
                         coord("c2", approval={"tools": "always"}))
    assert "c1" in message and "c2" in message and "approval policies" in message


def _runtime_value_error(**kw) -> str:
    with pytest.raises(ValueError) as info:
        fa.create_runtime(**kw)
    assert not isinstance(info.value, ValidationError) or "testing" in kw
    return str(info.value)


def test_unregistered_dynamic_predicate() -> None:
    spec = spec_of(coord(), approval_policies={"plans": {"kind": "dynamic", "value": "big"},
                                               "tools": "never"})
    assert "'big'" in _runtime_value_error(spec=spec)


def test_agent_tool_without_handler() -> None:
    tool = fa.define_tool("lookup", "Look up", {"q": str})  # never bound
    spec = spec_of(fa.define_specialist("s", model="m", prompt="p", tools=[tool]))
    assert "'lookup'" in _runtime_value_error(spec=spec)


def test_tool_spec_loaded_from_json_needs_bindings() -> None:
    @fa.define_tool("lookup", "Look up", {"q": str})
    def lookup(args, ctx):
        return args

    spec = spec_of(fa.define_specialist("s", model="m", prompt="p", tools=[lookup]))
    loaded = fa.RuntimeSpec.model_validate(spec.model_dump(by_alias=True))
    assert "'lookup'" in _runtime_value_error(spec=loaded)
    fa.create_runtime(loaded, tool_bindings=[lookup])
    # a {name: handler} mapping for the spec's tools still works (flowai_nb extension)
    fa.create_runtime(loaded, tool_bindings={"lookup": lambda args, ctx: args})


def test_testing_with_non_default_interpreter() -> None:
    message = _runtime_value_error(spec=spec_of(coord()), interpreter="scripted",
                                   testing=fa.TestingConfig(mock_response="hi"))
    assert "'scripted'" in message


@pytest.mark.parametrize("bad", [{"mock": "x"}, {"mock_response": 3}, "hello"])
def test_malformed_testing_config(bad) -> None:
    with pytest.raises(ValueError) as info:
        fa.create_runtime(spec_of(coord()), testing=bad)
    assert "testing config" in str(info.value) and repr(bad)[:10] in str(info.value)


def test_target_database_url_conflicting_with_data_environment() -> None:
    env = fa.DataEnvironmentConfig(tenant_id="acme", target_database_url="sqlite:///a.db")
    message = _runtime_value_error(spec=spec_of(coord()), data_environment=env,
                                   target_database_url="sqlite:///b.db")
    assert "sqlite:///b.db" in message


@pytest.mark.parametrize("key", ["tool_use_id", "services", "references"])
def test_reserved_service_keys(key: str) -> None:
    assert repr(key) in _runtime_value_error(spec=spec_of(coord()), services={key: object()})


@pytest.mark.parametrize("services", [["db"], "db", 42])
def test_wrongly_typed_services(services) -> None:
    with pytest.raises(TypeError, match=type(services).__name__):
        fa.create_runtime(spec_of(coord()), services=services)


@pytest.mark.parametrize("env", [42, "sqlite:///x.db", ["x"]])
def test_wrongly_typed_data_environment(env) -> None:
    with pytest.raises(TypeError, match=type(env).__name__):
        fa.create_runtime(spec_of(coord()), data_environment=env)


def test_invalid_data_environment_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        fa.create_runtime(spec_of(coord()), data_environment={
            "tenant_id": "acme", "target_database": {"kind": "oracle"}})


def test_invalid_spec_mapping_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        fa.create_runtime({"tenant": {"resourceId": "a"}})


def test_unknown_interpreter_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'gpt'.*noop"):
        fa.create_runtime(spec_of(coord()), interpreter="gpt")


def test_undeclared_tool_name_on_agent() -> None:
    message = spec_error(fa.define_specialist("s", model="m", prompt="p", tools=["nope"]))
    assert "'nope'" in message


def test_tool_approval_policy_for_a_tool_the_agent_cannot_call() -> None:
    analyst = fa.define_specialist("analyst", model="m", prompt="p", toolkits=["sql"],
                                   tool_approvals={"run_sqll": "always"})
    message = spec_error(analyst)
    assert "'run_sqll'" in message and "tool_approval_policies" in message
    assert "'run_sql'" in message  # lists the tools it can call


def test_approval_override_for_a_tool_the_agent_cannot_call() -> None:
    planner = fa.define_planner("planner", model="m", prompt="p")
    message = spec_error(planner,
                         approval_overrides={"tools": {"planner": {"execute_plan": "always"}}})
    assert "'execute_plan'" in message and "approval_overrides.tools['planner']" in message
    assert "'store_plan'" in message


def test_routes_on_a_non_coordinator() -> None:
    worker = fa.define_specialist("worker", model="m", prompt="p")
    helper = fa.define_specialist("helper", model="m", prompt="p", routes=["worker"])
    message = spec_error(coord(routes=["worker"]), worker, helper)
    assert "'helper'" in message and "['worker']" in message and "'router'" in message
