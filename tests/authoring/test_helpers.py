"""SPEC §2.2 helpers: define_tool, define_plan + TaggedUnion, define_reference + glimpse,
layered_prompt and the role constructors."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
from pydantic import BaseModel, ValidationError

import flowai_nb as fa


def test_role_constructors_set_role_and_defaults() -> None:
    c = fa.define_coordinator("c", model="m", prompt="p")
    p = fa.define_planner("p", model="m", prompt="p")
    e = fa.define_executor("e", model="m", prompt="p")
    s = fa.define_specialist("s", model="m", prompt="p", max_turns=4)
    assert [a.role for a in (c, p, e, s)] == ["coordinator", "planner", "executor", "specialist"]
    assert c.stateful and not p.stateful and not e.stateful and not s.stateful
    assert s.effective_max_turns == 4 and c.effective_max_turns == 16


def test_define_tool_decorates_sync_and_async_handlers() -> None:
    @fa.define_tool("add", "Add", {"a": int, "b": int})
    def add(args, ctx):
        return args["a"] + args["b"]

    @fa.define_tool("aadd", "Add later", {"a": int, "b": int})
    async def aadd(args, ctx):
        return args["a"] + args["b"]

    assert isinstance(add, fa.ToolSpec) and add.handler is not None
    assert add({"a": 1, "b": 2}, None) == 3
    assert asyncio.run(aadd({"a": 2, "b": 2}, None)) == 4


def test_input_schema_from_a_mapping_validates_and_coerces() -> None:
    tool = fa.define_tool("t", "d", {"sku": str, "units": int})
    assert tool.input_schema["required"] == ["sku", "units"]
    assert tool.validate_arguments({"sku": "A", "units": "3"}) == {"sku": "A", "units": 3}
    with pytest.raises(ValueError, match="units"):
        tool.validate_arguments({"sku": "A", "units": "many"})
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        tool.validate_arguments({"sku": "A", "units": 1, "color": "red"})


def test_input_schema_from_a_pydantic_model_hands_the_handler_a_model() -> None:
    class Args(BaseModel):
        sku: str
        units: int = 1

    tool = fa.define_tool("t", "d", Args)
    value = tool.validate_arguments({"sku": "A"})
    assert isinstance(value, Args) and value.units == 1


def test_input_schema_from_a_json_schema() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    tool = fa.define_tool("t", "d", schema)
    assert tool.input_schema == schema
    assert tool.validate_arguments({"q": "x"}) == {"q": "x"}
    with pytest.raises(ValueError, match="'q' is a required property"):
        tool.validate_arguments({})


def test_bad_schema_form_is_a_type_error_naming_the_field() -> None:
    with pytest.raises(TypeError, match="'units'"):
        fa.define_tool("t", "d", {"units": "integer please"})


def test_tool_name_is_validated() -> None:
    with pytest.raises(ValidationError, match="bad name"):
        fa.define_tool("bad name", "d", {})


def test_predicate_approval_is_registered_automatically() -> None:
    def big(args, info):
        return args["units"] > 100

    tool = fa.define_tool("order", "Order", {"units": int}, approval=big)
    assert tool.approval == fa.ApprovalPolicy.dynamic("tool:order")
    assert tool.predicate is big
    spec = fa.define_runtime(fa.define_tenant("a", "1"), agents=[
        fa.define_specialist("s", model="m", prompt="p", tools=[tool.bind(lambda a, c: a)])])
    fa.create_runtime(spec)  # no approval_predicates needed: registered from the tool


def test_tagged_union_builds_a_discriminated_union() -> None:
    class A(BaseModel):
        kind: Literal["a"] = "a"
        x: int

    class B(BaseModel):
        kind: Literal["b"] = "b"
        y: str

    class Plan(BaseModel):
        actions: list[fa.TaggedUnion(A, B)]

    plan = fa.define_plan("p", Plan)
    assert plan.action_kinds == ("a", "b")
    body, actions = plan.validate_body({"actions": [{"kind": "b", "y": "hi"},
                                                    {"kind": "a", "x": 1}]})
    assert actions == [{"kind": "b", "payload": {"y": "hi"}, "references": []},
                       {"kind": "a", "payload": {"x": 1}, "references": []}]
    with pytest.raises(ValueError, match="'c'"):
        plan.validate_body({"actions": [{"kind": "c"}]})


def test_tagged_union_requires_literal_tags() -> None:
    class NoTag(BaseModel):
        x: int

    with pytest.raises(TypeError, match="NoTag needs a field kind"):
        fa.TaggedUnion(NoTag)


def test_define_plan_requires_actions() -> None:
    class NoActions(BaseModel):
        x: int

    with pytest.raises(ValueError, match="'actions'"):
        fa.define_plan("p", NoActions)


def test_plan_spec_round_trips_and_still_validates() -> None:
    class A(BaseModel):
        kind: Literal["a"] = "a"
        x: int

    class Plan(BaseModel):
        actions: list[fa.TaggedUnion(A)]

    plan = fa.define_plan("p", Plan)
    loaded = fa.PlanSpec.model_validate(plan.model_dump(by_alias=True))
    assert loaded == plan
    assert loaded.validate_body({"actions": [{"kind": "a", "x": 2}]})[1][0]["payload"] == {"x": 2}
    with pytest.raises(ValueError, match="x"):
        loaded.validate_body({"actions": [{"kind": "a", "x": "two"}]})


def test_define_reference_and_glimpse() -> None:
    seen = []

    def summary(value):
        seen.append(value)
        return {"rows": len(value["rows"])}

    ref = fa.define_reference("slice", {"rows": list}, ttl_ms=1000, glimpse=summary)
    assert ref.ttl_ms == 1000 and ref.glimpse_callback is summary
    assert ref.model_dump(by_alias=True)["schema"]["required"] == ["rows"]
    marker = fa.glimpse({"rows": 3})
    assert isinstance(marker, fa.Glimpse) and marker.value == {"rows": 3}


def test_layered_prompt_is_byte_identical_and_ordered() -> None:
    kwargs = dict(identity="You are Ops.", communication="Be brief.",
                  operational_rules=["Check stock first.", "Never guess."],
                  domain_knowledge={"zeta": [1, 2], "alpha": "stores open at 9"},
                  tools=[("run_sql", "query data"), "call_agent"], safety=["No deletes."],
                  output_format="Markdown table.")
    first = fa.layered_prompt(**kwargs)
    assert first == fa.layered_prompt(**kwargs)
    order = ["# Identity", "# Communication", "# Operational rules", "# Domain knowledge",
             "# Tools", "# Safety", "# Output format"]
    positions = [first.index(h) for h in order]
    assert positions == sorted(positions)
    assert first.index("- alpha: stores open at 9") < first.index("- zeta: [1, 2]")
    assert fa.layered_prompt(identity="x") == "# Identity\nx"


@pytest.mark.parametrize("args, problem", [
    ({"q": "x", "n": 2}, None),
    ({}, "'q' is a required property"),
    ({"q": 3}, "3 is not of type 'string'"),
    ({"q": "x", "n": True}, "True is not of type 'integer'"),
    ({"q": "x", "n": 0}, "less than the minimum"),
    ({"q": "x", "extra": 1}, "additional properties are not allowed"),
    ({"q": "x", "ref": 5}, "not valid under any of the given schemas"),
    ({"q": "x", "ref": "kind:id"}, None),
])
def test_simple_json_schemas_validate_without_jsonschema(args, problem) -> None:
    schema = {"type": "object", "additionalProperties": False, "required": ["q"],
              "properties": {"q": {"type": "string"}, "n": {"type": "integer", "minimum": 1},
                             "ref": {"anyOf": [{"type": "object"}, {"type": "string"}]}}}
    tool = fa.define_tool("t", "d", schema)
    if problem is None:
        assert tool.validate_arguments(args) == args
    else:
        with pytest.raises(ValueError, match=problem):
            tool.validate_arguments(args)
