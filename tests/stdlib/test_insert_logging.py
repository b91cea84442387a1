"""insert_logging: Print nodes after selected nodes, as GTT builds them, and what they print."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrewrite import _tf
from graphrewrite.engine.graph import TensorRef
from graphrewrite.stdlib_rules.insert_logging import INSERT_LOGGING
from tests.helpers.compression import apply, build, gtt, nodes, run, run_logged


def chain_graph():
    """x -> add (x + c) -> mul (add * c) -> out (Identity); plus a TopK with one output used."""
    tf = _tf.tf()

    def body():
        x = tf.compat.v1.placeholder(tf.float32, [4], name="x")
        c = tf.constant([1.0, 2.0, 3.0, 4.0], name="c")
        add = tf.add(x, c, name="add")
        mul = tf.multiply(add, c, name="mul")
        tf.identity(mul, name="out")
        top = tf.math.top_k(add, k=2, name="top")
        tf.identity(top.indices, name="idx")

    return build(body)


def test_prints_go_between_selected_nodes_and_their_consumers():
    graph_def = chain_graph()
    out, report = apply(INSERT_LOGGING, graph_def, ["x"], ["out", "idx"], op=["AddV2", "Mul"], show_name=True,
                        message="hi:")
    by_name = nodes(out)
    assert {n.name for n in out.node} - {n.name for n in graph_def.node} == {"add__print__", "mul__print__"}
    assert report.applied == 5  # two Prints; mul, top and out rewired
    assert list(by_name["add__print__"].input) == ["add", "add"]
    assert list(by_name["mul"].input) == ["add__print__", "c"]
    assert by_name["top"].input[0] == "add__print__"
    assert list(by_name["out"].input) == ["mul__print__"]
    assert by_name["mul__print__"].attr["message"].s == b";mul__print__;hi:"
    x = np.arange(4, dtype=np.float32)
    (before,) = run(graph_def, {"x": x}, ["out"])
    (after,), log = run_logged(out, {"x": x}, ["out"])
    np.testing.assert_array_equal(before, after)
    assert ";add__print__;hi:[1 3 5 7]" in log
    assert ";mul__print__;hi:[1 6 15 28]" in log


def test_sinks_are_never_logged_and_filters_apply():
    graph_def = chain_graph()
    out, report = apply(INSERT_LOGGING, graph_def, ["x"], ["out", "idx"])
    logged = {n.name[: -len("__print__")] for n in out.node if n.op == "Print"}
    assert logged == {"x", "c", "add", "mul", "top", "top/k"}  # out and idx have no consumers
    out, _ = apply(INSERT_LOGGING, graph_def, ["x"], ["out"], prefix=["mu", "ad"])
    assert {n.name for n in out.node if n.op == "Print"} == {"add__print__", "mul__print__"}
    out, report = apply(INSERT_LOGGING, graph_def, ["x"], ["out"], op=["Conv2D"])
    assert report.applied == 0


def test_a_multi_output_node_prints_only_its_used_outputs():
    """GTT would set U to both TopK types and produce a Print TensorFlow cannot import."""
    out, _ = apply(INSERT_LOGGING, chain_graph(), ["x"], ["idx"], op=["TopKV2"], show_op=True)
    node = nodes(out)["top__print__"]
    assert list(node.input) == ["top", "top:1"]
    assert [_tf.tf().as_dtype(t).name for t in node.attr["U"].list.type] == ["int32"]
    # Only port 0 is rerouted through the Print, so here it runs only when fetched itself.
    (idx, _), log = run_logged(out, {"x": np.arange(4, dtype=np.float32)}, ["idx", "top__print__"])
    assert list(idx) == [3, 2] and ";TopKV2;[3 2]" in log


@pytest.mark.gtt
def test_same_print_nodes_as_gtt():
    graph_def = chain_graph()
    transform = 'insert_logging(op=AddV2, op=Mul, show_op=true, show_name=true, message="m:", first_n=3, summarize=9)'
    theirs = nodes(gtt(graph_def, ["x"], ["out"], transform))
    mine = nodes(apply(INSERT_LOGGING, graph_def, ["x"], ["out"], op=["AddV2", "Mul"], show_op=True,
                       show_name=True, message="m:", first_n=3, summarize=9)[0])
    assert mine.keys() == theirs.keys()
    for name, node in theirs.items():
        assert _canonical(mine[name].input) == _canonical(node.input), name
        if node.op == "Print":
            assert dict(mine[name].attr) == dict(node.attr), name


def _canonical(inputs):
    return [TensorRef.parse(i) for i in inputs]  # GTT writes x:0 where we write x


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(-100, 100, width=32), min_size=4, max_size=4), st.integers(-1, 5))
def test_property_logging_never_changes_outputs(values, first_n):
    graph_def = chain_graph()
    out, _ = apply(INSERT_LOGGING, graph_def, ["x"], ["out", "idx"], first_n=first_n)
    x = np.array(values, np.float32)
    before = run(graph_def, {"x": x}, ["out", "idx"])
    after, _ = run_logged(out, {"x": x}, ["out", "idx"])
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
