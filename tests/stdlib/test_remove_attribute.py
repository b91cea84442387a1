"""remove_attribute: the attribute goes from the selected op types."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.errors import UsageError
from graphrewrite.stdlib_rules.attributes import REMOVE_ATTRIBUTE
from tests.helpers.structural import F32, apply, assert_clean, assert_same_outputs, graph, op, ph


def _g():
    return graph(
        ph("x"),
        op("a", "Relu", ["x"], T=F32, _note="a"),
        op("b", "Neg", ["a"], T=F32, _note="b"),
    )


def test_removed_from_selected_op_only_and_outputs_unchanged():
    before = _g()
    after = apply(REMOVE_ATTRIBUTE, before, inputs=["x"], outputs=["b"], attribute_name="_note", op_name="Neg")
    assert "_note" not in after.node("b").attr and after.node("a").get("_note") == "a"
    assert_clean(after, ["x"], ["b"])
    assert_same_outputs(before, after, {"x": np.array([1.0, -1.0], np.float32)}, ["b"])


def test_star_removes_everywhere_and_absent_attribute_is_a_no_op():
    after = apply(REMOVE_ATTRIBUTE, _g(), outputs=["b"], attribute_name="_note")
    assert all("_note" not in n.attr for n in after)
    g = _g()
    assert apply(REMOVE_ATTRIBUTE, g, outputs=["b"], attribute_name="_absent") is g


def test_empty_attribute_name_is_refused():
    with pytest.raises(UsageError, match="non-empty 'attribute_name'"):
        apply(REMOVE_ATTRIBUTE, _g(), outputs=["b"], attribute_name="")
