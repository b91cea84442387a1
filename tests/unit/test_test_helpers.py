"""The shared test helpers do what the suites rely on: ops() reads Graphs and GraphDefs alike,
v1_graph builds TF1 control flow and restores TensorFlow's switch, const keeps control inputs."""

from __future__ import annotations

import numpy as np

from tests.helpers.random_graphs import random_graph
from tests.helpers.rule_graphs import F32, const, control_flow_v1, graph, node, ops, placeholder, v1_graph


def test_ops_reads_a_graph_and_its_graphdef_in_node_order() -> None:
    g = graph(placeholder("x", (None, 2)), const("k", [1.0, 2.0]), node("y", "AddV2", "x", "k"))
    assert ops(g) == ops(g.to_graphdef()) == ["Placeholder", "Const", "AddV2"]
    assert g.node("y").get("T") == F32


def test_const_keeps_its_control_inputs_and_dtype() -> None:
    c = const("k", [1, 2], np.int32, inputs=["^x"])
    assert [str(i) for i in c.inputs] == ["^x"] and c.value().dtype == np.int32


def test_v1_graph_builds_tf1_control_flow_and_restores_the_switch() -> None:
    from tensorflow.python.ops import control_flow_util

    before = control_flow_util.ENABLE_CONTROL_FLOW_V2

    def build(tf) -> None:  # type: ignore[no-untyped-def]
        x = tf.compat.v1.placeholder(tf.float32, (), name="x")
        tf.identity(tf.compat.v1.while_loop(lambda v: v < 3.0, lambda v: v + 1.0, [x]), name="y")

    assert {"Enter", "Merge", "Switch", "NextIteration", "Exit"} <= set(ops(v1_graph(build)))
    assert before == control_flow_util.ENABLE_CONTROL_FLOW_V2
    with control_flow_v1(False):
        assert control_flow_util.ENABLE_CONTROL_FLOW_V2
    assert before == control_flow_util.ENABLE_CONTROL_FLOW_V2


def test_random_graphs_are_reproducible_and_end_in_y() -> None:
    assert random_graph(3).to_graphdef() == random_graph(3).to_graphdef()
    assert "y" in [n.name for n in random_graph(3)]
