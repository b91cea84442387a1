"""add_default_attributes: missing OpDef defaults added, present ones and unknown ops left."""

from __future__ import annotations

import numpy as np

from graphrewrite.stdlib_rules.attributes import ADD_DEFAULT_ATTRIBUTES as ADD
from tests.helpers.structural import F32, apply, assert_clean, assert_same_outputs, graph, op, ph


def test_missing_defaults_are_added_present_ones_kept():
    before = graph(
        ph("a", shape=(2, 2)),
        ph("b", shape=(2, 2)),
        op("m", "MatMul", ["a", "b"], T=F32, transpose_a=True),
    )
    after = apply(ADD, before, inputs=["a", "b"], outputs=["m"])
    m = after.node("m")
    assert m.get("transpose_a") is True and m.get("transpose_b") is False
    assert m.get("grad_a") is False and m.get("grad_b") is False
    assert_clean(after, ["a", "b"], ["m"])
    feeds = {"a": np.arange(4, dtype=np.float32).reshape(2, 2), "b": np.eye(2, dtype=np.float32) * 3}
    assert_same_outputs(before, after, feeds, ["m"])


def test_unknown_ops_and_complete_nodes_are_left_alone():
    g = graph(op("k", "MyCustomOp"), op("r", "Relu", ["k"], T=F32))  # Relu's only attr has no default
    assert apply(ADD, g, outputs=["r"]) is g  # GTT fails on MyCustomOp


def test_placeholder_gets_its_unknown_shape_default():
    after = apply(ADD, graph(ph("x")), inputs=["x"])
    assert "shape" in after.node("x").attr and after.node("x").get("shape") is None
