"""rename_op: op types change, nothing else does."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.errors import UsageError
from graphrewrite.stdlib_rules.attributes import RENAME_OP
from tests.helpers.structural import apply, assert_clean, assert_same_outputs, graph, ph, unary

X = {"x": np.array([-1.0, 2.0], np.float32)}


def test_every_node_of_the_op_is_renamed():
    before = graph(ph("x"), unary("a", "Relu", "x"), unary("b", "Relu", "a"), unary("y", "Neg", "b"))
    after = apply(RENAME_OP, before, inputs=["x"], outputs=["y"], old_op_name="Relu", new_op_name="Relu6")
    assert [n.op for n in after] == ["Placeholder", "Relu6", "Relu6", "Neg"]
    assert after.node("a").attr == before.node("a").attr and after.node("y") is before.node("y")
    assert_clean(after, ["x"], ["y"])
    # Relu and Relu6 agree below 6: the renamed graph still runs and gives the same numbers.
    assert_same_outputs(before, after, X, ["y"])


def test_absent_op_leaves_the_graph_as_is():
    g = graph(ph("x"), unary("y", "Relu", "x"))
    assert apply(RENAME_OP, g, outputs=["y"], old_op_name="Sigmoid", new_op_name="Tanh") is g


def test_empty_names_are_refused():
    g = graph(ph("x"), unary("y", "Relu", "x"))
    with pytest.raises(UsageError, match="non-empty 'new_op_name'"):
        apply(RENAME_OP, g, outputs=["y"], old_op_name="Relu", new_op_name="")
