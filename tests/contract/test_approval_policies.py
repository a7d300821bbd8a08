"""Reference §ApprovalPolicies (lines 284-294)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import flowai_nb as fa

from ._reference import assert_model_matches, cites


@cites(285, "ApprovalPolicies(*, plans: dict[str, typing.Any] = <factory>, tools:")
def test_fields_match_the_reference() -> None:
    assert_model_matches(fa.ApprovalPolicies, 285)


@cites(292, 'Each channel accepts "never", "always", or')
@pytest.mark.parametrize("given, wire", [
    ("never", {"kind": "never"}), ("always", {"kind": "always"}),
    ({"kind": "dynamic", "value": "big"}, {"kind": "dynamic", "value": "big"})])
def test_channels_normalise_to_the_wire_shape(given, wire) -> None:
    policies = fa.ApprovalPolicies(plans=given, tools=given)
    assert policies.model_dump(by_alias=True) == {"plans": wire, "tools": wire}


@cites(294, "wire shape {\"kind\": ...}.")
def test_other_values_are_refused_naming_them() -> None:
    with pytest.raises(ValidationError, match="sometimes"):
        fa.ApprovalPolicies(plans="sometimes")
    with pytest.raises(ValidationError, match="predicate id"):
        fa.ApprovalPolicies(plans={"kind": "dynamic"})
