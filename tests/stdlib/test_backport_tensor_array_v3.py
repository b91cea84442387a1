"""backport_tensor_array_v3: V3 ops become V2, flow outputs read a Const, handles retyped."""

from __future__ import annotations

import numpy as np

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.graph import Graph
from graphrewrite.runner import run_graph
from graphrewrite.stdlib_rules.backports import BACKPORT_TENSOR_ARRAY_V3 as BACKPORT
from tests.helpers.rule_graphs import v1_graph
from tests.helpers.structural import apply, assert_clean, evaluate, inputs_of, names

FEEDS = {"x": np.array([1.0, 2.0], np.float32)}


def test_v3_ops_become_v2_and_the_loop_still_computes_the_same():
    before = _tensor_array_graph()
    after = apply(BACKPORT, before, inputs=["x"], outputs=["y"])
    ops = {n.op for n in after}
    assert {"TensorArrayV2", "TensorArrayWriteV2", "TensorArrayGatherV2"} <= ops
    assert not any(op.endswith("V3") for op in ops)
    assert "identical_element_shapes" not in after.node("TensorArray").attr  # V2 does not declare it
    flow = "TensorArray/replacement_flow_node"
    assert names(after)[-1] == flow and after.node(flow).value() == 1.0
    assert inputs_of(after, flow) == ["^TensorArray"] and inputs_of(after, "while/Enter_1") == [flow]
    assert after.node("while/TensorArrayWrite/TensorArrayWriteV3/Enter").get("T") == DType(7)  # string handle
    assert_clean(after, ["x"], ["y"])
    # TensorFlow refuses the deprecated V2 ops in graphs produced after GraphDef version 26,
    # so the backported graph is run as the old producer it is meant for.
    graph_def = after.to_graphdef()
    graph_def.versions.producer = 21
    expected = evaluate(before, FEEDS, ["y"])[0]
    np.testing.assert_array_equal(run_graph(graph_def, FEEDS, ["y"])[0], expected)


def test_graph_without_tensor_arrays_is_returned_as_is():
    g = Graph.from_nodes([])
    assert apply(BACKPORT, g) is g


def _tensor_array_graph() -> Graph:
    """A TF1 while loop writing x*i into a TensorArrayV3, then stacking it."""
    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, (2,), name="x")
        array = tf.TensorArray(tf.float32, size=3)

        def body(i, t):
            return i + 1, t.write(i, x * tf.cast(i, tf.float32))

        _, array = tf.compat.v1.while_loop(lambda i, t: i < 3, body, [0, array])
        tf.identity(array.stack(), name="y")

    return v1_graph(build)
