"""Feed points: nodes named in --inputs are opaque to every step (engine/feeds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import transform_graph
from graphrewrite.engine.feeds import cut_feeds, restore_feeds
from graphrewrite.engine.graph import Graph
from graphrewrite.runner import run_graph


def _issue_graph():
    """The issue's graph: equal constants a_op and b_op, each through a Relu, added, times c."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        a = tf.constant(np.arange(10, dtype=np.float32), name="a_op")
        b = tf.constant(np.arange(10, dtype=np.float32), name="b_op")
        c = tf.constant(np.full(10, 2.0, np.float32), name="c_op")
        tf.multiply(tf.add(tf.nn.relu(a), tf.nn.relu(b)), c, name="mul_op1")
    return g.as_graph_def()


FED = {"a_op": np.arange(10, dtype=np.float32) * 2 + 3}


@pytest.mark.parametrize(
    "script",
    [
        "merge_duplicate_nodes",
        "fold_constants(ignore_errors=true)",
        "fold_constants merge_duplicate_nodes",
        "quantize_weights(minimum_size=1)",
        "simplify_arithmetic",
        "strip_unused_nodes fold_constants merge_duplicate_nodes sort_by_execution_order",
    ],
)
def test_a_fed_const_keeps_its_meaning(script):
    graph_def = _issue_graph()
    expected = run_graph(graph_def, FED, ["mul_op1"])[0]
    out = transform_graph(graph_def, ["a_op"], ["mul_op1"], script)
    actual = run_graph(out, FED, ["mul_op1"])[0]
    np.testing.assert_allclose(actual, expected, rtol=1e-2)  # quantize_weights is lossy on b_op
    assert "a_op" in {n.name for n in out.node}


def test_merge_keeps_fed_nodes_apart():
    """The issue's case: b_op must not be merged into a_op, since a_op is fed."""
    graph_def = _issue_graph()
    out = transform_graph(graph_def, ["a_op"], ["mul_op1"], "merge_duplicate_nodes")
    assert {"a_op", "b_op"} <= {n.name for n in out.node}
    assert run_graph(out, FED, ["mul_op1"])[0].tolist() == run_graph(graph_def, FED, ["mul_op1"])[0].tolist()


def test_interior_feed_keeps_its_upstream():
    """An interior node fed (the mobile guide feeds Inception at its Mul) still runs unfed."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        pre = tf.multiply(tf.identity(x, name="copy"), 2.0, name="Mul")
        y = tf.nn.relu(pre * 3.0, name="y")
    graph_def = g.as_graph_def()
    del y
    script = "remove_nodes(op=Identity) fold_constants merge_duplicate_nodes simplify_arithmetic"
    out = transform_graph(graph_def, ["Mul"], ["y"], script)
    nodes = {n.name: n for n in out.node}
    assert nodes["Mul"].op == "Mul"
    fed = {"Mul": np.full((2, 4), -1.5, np.float32)}
    np.testing.assert_allclose(run_graph(out, fed, ["y"])[0], run_graph(graph_def, fed, ["y"])[0])
    unfed = {"x": np.arange(8, dtype=np.float32).reshape(2, 4) - 3}
    np.testing.assert_allclose(run_graph(out, unfed, ["y"])[0], run_graph(graph_def, unfed, ["y"])[0])


def test_cut_and_restore_round_trip():
    graph = Graph.from_graphdef(_issue_graph())
    cut_graph, cut = cut_feeds(graph, ["a_op:0"])
    assert cut_graph.node("a_op").op == "Placeholder"
    assert cut_graph.node("b_op").op == "Const"
    assert restore_feeds(cut_graph, cut).node("a_op") is graph.node("a_op")


def test_placeholders_need_no_stand_in():
    graph = Graph.from_graphdef(_issue_graph())
    placeholder_graph, cut = cut_feeds(graph, [])
    assert placeholder_graph is graph and not cut.originals


def test_strip_unused_nodes_still_cuts_at_an_interior_input():
    """strip_unused_nodes turns inputs into Placeholders on purpose (GTT's meaning)."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        tf.nn.relu(tf.multiply(x, 2.0, name="Mul"), name="y")
    out = transform_graph(g.as_graph_def(), ["Mul"], ["y"], "strip_unused_nodes")
    assert {n.name: n.op for n in out.node}["Mul"] == "Placeholder"
    assert "x" not in {n.name for n in out.node}
