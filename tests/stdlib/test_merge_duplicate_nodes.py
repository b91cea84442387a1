"""merge_duplicate_nodes: exact equality, value numbering to a fixed point, order kept."""

from __future__ import annotations

import numpy as np

from graphrewrite import _tf
from graphrewrite.engine.graph import Graph
from graphrewrite.stdlib_rules.merge import MERGE_DUPLICATE_NODES as MERGE
from tests.helpers.rule_graphs import v1_graph
from tests.helpers.structural import (
    F32,
    apply,
    assert_clean,
    assert_same_outputs,
    binary,
    const,
    graph,
    inputs_of,
    names,
    op,
    ph,
    unary,
)

X = {"x": np.array([1.0, -2.0], np.float32)}


def test_duplicates_merge_to_a_fixed_point_in_one_pass():
    before = graph(
        ph("x"),
        const("c1", [1.0, 2.0]),
        const("c2", [1.0, 2.0]),
        binary("a1", "AddV2", "x", "c1"),
        binary("a2", "AddV2", "x", "c2"),
        unary("r1", "Relu", "a1"),
        unary("r2", "Relu", "a2"),
        binary("out", "Sub", "r1", "r2"),
    )
    after = apply(MERGE, before, inputs=["x"], outputs=["out"])
    assert names(after) == ["x", "c1", "a1", "r1", "out"]  # graph order kept (GTT: hash order)
    assert inputs_of(after, "out") == ["r1", "r1"]
    assert_clean(after, ["x"], ["out"])
    assert_same_outputs(before, after, X, ["out"])


def test_only_exact_twins_merge():
    g = graph(
        ph("x"),
        const("c1", [1.0, 2.0]),
        const("c2", [1.0, 2.5]),  # another value
        op("d1", "Relu", ["x"], T=F32),
        op("d2", "Relu", ["x"], device="/device:CPU:0", T=F32),  # another device
        op("s1", "Relu", ["x"], T=F32, _output_shapes=_shapes((2,))),  # another attribute
        binary("m1", "Sub", "x", "c1"),
        binary("m2", "Sub", "c1", "x"),  # inputs in another order
    )
    assert apply(MERGE, g, inputs=["x"]) is g


def test_stateful_placeholders_and_unknown_ops_are_never_merged():
    shape = const("shape", [2], np.int32)
    g = graph(
        shape,
        op("r1", "RandomUniform", ["shape"], T=_i32(), dtype=F32, seed=1, seed2=2),
        op("r2", "RandomUniform", ["shape"], T=_i32(), dtype=F32, seed=1, seed2=2),
        ph("p1"),
        ph("p2"),
        op("u1", "MyCustomOp", ["p1"]),
        op("u2", "MyCustomOp", ["p1"]),
    )
    assert apply(MERGE, g) is g  # GTT would merge p1 and p2, and fail on MyCustomOp


def test_protected_twin_survives_and_absorbs_the_others():
    g = graph(ph("x"), unary("a", "Relu", "x"), unary("b", "Relu", "x"), unary("c", "Relu", "x"), unary("y", "Neg", "a"))
    after = apply(MERGE, g, inputs=["x"], outputs=["y", "b:0"])
    assert names(after) == ["x", "b", "y"] and inputs_of(after, "y") == ["b"]


def test_control_inputs_compare_as_a_set_and_control_uses_follow():
    before = graph(
        ph("x"),
        op("i1", "NoOp"),
        op("i2", "NoOp"),
        unary("a", "Relu", "x", "^i1", "^i2"),
        unary("b", "Relu", "x", "^i2", "^i1"),
        binary("y", "AddV2", "a", "b"),
        op("z", "NoOp", ["^b"]),
        op("w", "Neg", ["a"], T=F32, _class=["loc:@b"]),
    )
    after = apply(MERGE, before, inputs=["x"], outputs=["y", "z", "w"])
    assert "b" not in names(after)  # the NoOps i1 and i2 are twins too: i2 goes
    assert inputs_of(after, "a") == ["x", "^i1"]
    assert inputs_of(after, "z") == ["^a"] and after.node("w").get("_class") == ["loc:@a"]
    assert_same_outputs(before, after, X, ["y", "w"])


def test_consumers_of_other_ports_follow_the_same_port():
    before = graph(
        const("v", [1.0, 2.0, 3.0, 4.0]),
        const("axis", 0, np.int32),
        op("s1", "Split", ["axis", "v"], T=F32, num_split=2),
        op("s2", "Split", ["axis", "v"], T=F32, num_split=2),
        binary("y", "Sub", "s2:1", "s1"),
    )
    after = apply(MERGE, before, outputs=["y"])
    assert inputs_of(after, "y") == ["s1:1", "s1"]
    assert_same_outputs(before, after, {}, ["y"])


def test_loop_graph_with_back_edges_still_computes_the_same():
    before = _while_graph()
    after = apply(MERGE, before, inputs=["x"], outputs=["y"])
    assert len(after) < len(before)  # the two identical loop bodies' constants merge
    assert_same_outputs(before, after, {"x": np.array(1.5, np.float32)}, ["y"])


def _while_graph() -> Graph:
    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, (), name="x")
        _, y = tf.compat.v1.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0 + 2.0), [0, x])
        tf.identity(y + 2.0, name="y")

    return v1_graph(build)


def _shapes(*shapes):
    """An AttrValue holding a list of shapes (``_output_shapes``)."""
    from graphrewrite.engine.attrvalues import shape_to_proto

    value = _tf.pb().AttrValue()
    for dims in shapes:
        value.list.shape.add().CopyFrom(shape_to_proto(dims))
    return value


def _i32():
    from graphrewrite.engine.attrvalues import DType

    return DType(3)


def test_equal_hashes_are_not_enough(monkeypatch):
    from graphrewrite.stdlib_rules import merge

    monkeypatch.setattr(merge, "sketch", lambda node: 0)  # every hash collides
    monkeypatch.setattr(merge, "fingerprint", lambda node: 0)
    g = graph(const("c1", [1.0, 2.0]), const("c2", [1.0, 2.5]), const("c3", [1.0, 2.0]), binary("y", "AddV2", "c2", "c3"))
    after = apply(MERGE, g, outputs=["y"])
    assert names(after) == ["c1", "c2", "y"] and inputs_of(after, "y") == ["c2", "c1"]
