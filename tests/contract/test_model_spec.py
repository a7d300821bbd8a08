"""Reference §ModelSpec (lines 266-275)."""

from __future__ import annotations

import flowai_nb as fa

from ._reference import assert_model_matches, cites


@cites(267, "ModelSpec(*, id: str, provider: str | None = None)")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.ModelSpec, 267)


@cites(274, "A plain model id string is accepted anywhere a ModelSpec is expected")
def test_a_plain_string_is_coerced() -> None:
    assert fa.ModelSpec.model_validate("claude-x") == fa.ModelSpec(id="claude-x")
    agent = fa.AgentSpec(name="a", role="specialist", stateful=False, model="claude-x",
                         system_prompt="")
    assert agent.model == fa.ModelSpec(id="claude-x", provider=None)
    routed = fa.define_specialist("s", model=fa.ModelSpec(id="m", provider="scripted"),
                                  prompt="p")
    assert routed.model.provider == "scripted"
