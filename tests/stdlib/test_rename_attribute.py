"""rename_attribute: keys move on the selected op types; clobbering is refused."""

from __future__ import annotations

import pytest

from graphrewrite.engine.errors import RuleError
from graphrewrite.stdlib_rules.attributes import RENAME_ATTRIBUTE
from tests.helpers.structural import F32, apply, assert_clean, graph, op, ph


def _g():
    return graph(
        ph("x"),
        op("a", "Relu", ["x"], T=F32, _note="a"),
        op("b", "Neg", ["a"], T=F32, _note="b"),
    )


def test_attribute_renamed_on_the_selected_op_only():
    after = apply(RENAME_ATTRIBUTE, _g(), outputs=["b"], old_attribute_name="_note", new_attribute_name="_tag", op_name="Relu")
    assert after.node("a").get("_tag") == "a" and "_note" not in after.node("a").attr
    assert after.node("b").get("_note") == "b"
    assert_clean(after, outputs=["b"])


def test_star_selects_every_op():
    after = apply(RENAME_ATTRIBUTE, _g(), outputs=["b"], old_attribute_name="_note", new_attribute_name="_tag")
    assert after.node("a").get("_tag") == "a" and after.node("b").get("_tag") == "b"


def test_existing_target_attribute_is_not_clobbered():
    with pytest.raises(RuleError, match="node 'a' \\(Relu\\) has both '_note' and 'T'"):
        apply(RENAME_ATTRIBUTE, _g(), outputs=["b"], old_attribute_name="_note", new_attribute_name="T")


def test_missing_attribute_changes_nothing():
    g = _g()
    assert apply(RENAME_ATTRIBUTE, g, outputs=["b"], old_attribute_name="_absent", new_attribute_name="_x") is g
