"""sort_by_execution_order: GTT's exact LIFO Kahn order, Merge loops, cycles named."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.errors import GraphError
from graphrewrite.engine.graph import Graph
from graphrewrite.stdlib_rules.ordering import SORT_BY_EXECUTION_ORDER as SORT
from graphrewrite.stdlib_rules.ordering import execution_order
from tests.helpers.rule_graphs import v1_graph
from tests.helpers.structural import (
    apply,
    assert_clean,
    assert_same_outputs,
    binary,
    const,
    graph,
    names,
    op,
    ph,
    unary,
)


def test_lifo_stack_order_like_gtt():
    # Sources a, b are pushed in graph order and b (pushed last) comes out first.
    g = graph(binary("c", "AddV2", "a", "b"), ph("a"), ph("b"), unary("d", "Neg", "a"))
    assert execution_order(g) == ["b", "a", "d", "c"]


def test_consumers_become_ready_in_edge_discovery_order():
    # 'a' feeds y (listed first) and x; both become ready when a is popped, pushed in that
    # order, so x (pushed last) is popped first.
    g = graph(ph("a"), unary("y", "Neg", "a"), unary("x", "Relu", "a"))
    assert execution_order(g) == ["a", "x", "y"]


def test_shuffled_graph_is_sorted_and_computes_the_same():
    g = graph(
        binary("out", "AddV2", "r", "k"),
        unary("r", "Relu", "x"),
        const("k", [1.0, 2.0]),
        ph("x"),
    )
    after = apply(SORT, g, inputs=["x"], outputs=["out"])
    assert names(after) == ["x", "r", "k", "out"]
    assert_clean(after, ["x"], ["out"])
    assert_same_outputs(g, after, {"x": np.array([-1.0, 1.0], np.float32)}, ["out"])


def test_duplicate_inputs_are_counted_twice():
    g = graph(binary("sq", "Mul", "x", "x"), ph("x"))
    assert execution_order(g) == ["x", "sq"]


def test_already_sorted_graph_is_returned_as_is():
    g = graph(ph("x"), unary("y", "Relu", "x"))
    assert apply(SORT, g, inputs=["x"], outputs=["y"]) is g


def test_while_loop_merge_waits_for_one_data_input():
    before = _while_graph()
    shuffled = Graph.from_nodes(reversed(list(before)), library=before.library, versions=before.versions)
    after = apply(SORT, shuffled, inputs=["x"], outputs=["y"])
    order = names(after)
    assert order.index("while/Merge") < order.index("while/NextIteration")
    assert after.versions == before.versions
    assert_same_outputs(before, after, {"x": np.array(1.0, np.float32)}, ["y"])


def test_cycle_is_an_error_naming_its_nodes():
    g = graph(ph("x"), binary("a", "AddV2", "x", "b"), unary("b", "Neg", "a"), unary("y", "Relu", "b"))
    with pytest.raises(GraphError, match=r"cycle: 'a' -> 'b' -> 'a' \(3 nodes cannot be ordered\)"):
        apply(SORT, g, inputs=["x"], outputs=["y"])


def test_dangling_input_is_an_error():
    g = graph(unary("y", "Relu", "ghost"))
    with pytest.raises(GraphError, match="node 'y': input 'ghost' names a node that does not exist"):
        execution_order(g)


def test_merge_without_data_input_is_named():
    g = graph(op("c", "NoOp"), op("m", "Merge", ["^c"]))
    with pytest.raises(GraphError, match="node 'm' \\(Merge\\) has no data input"):
        execution_order(g)


def _while_graph() -> Graph:
    """A TF1-style while loop (Enter/Merge/Switch/NextIteration/Exit): y = x doubled 3 times."""
    def build(tf):
        x = tf.compat.v1.placeholder(tf.float32, (), name="x")
        _, y = tf.compat.v1.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0), [0, x])
        tf.identity(y, name="y")

    return v1_graph(build)
