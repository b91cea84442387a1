"""remove_control_dependencies: every ^x input goes, data inputs stay."""

from __future__ import annotations

import numpy as np

from graphrewrite.stdlib_rules.attributes import REMOVE_CONTROL_DEPENDENCIES as REMOVE
from tests.helpers.structural import apply, assert_clean, assert_same_outputs, graph, inputs_of, op, ph, unary


def test_control_inputs_dropped_data_inputs_kept():
    before = graph(ph("x"), op("c", "NoOp"), unary("a", "Relu", "x", "^c"), unary("y", "Neg", "a", "^c", "^x"))
    after = apply(REMOVE, before, inputs=["x"], outputs=["y"])
    assert inputs_of(after, "a") == ["x"] and inputs_of(after, "y") == ["a"]
    assert "c" in after  # nodes are not pruned
    assert_clean(after, ["x"], ["y"])
    assert_same_outputs(before, after, {"x": np.array([2.0], np.float32)}, ["y"])


def test_graph_without_control_inputs_is_returned_as_is():
    g = graph(ph("x"), unary("y", "Relu", "x"))
    assert apply(REMOVE, g, outputs=["y"]) is g
