"""The matcher, apply_batch's safety rules, and the fixed-point driver."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.attrvalues import DType, Shape
from graphrewrite.engine.driver import Context, saturate
from graphrewrite.engine.errors import SaturationError
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.matcher import match_at
from graphrewrite.engine.pattern import Tensor, Trace, op
from graphrewrite.engine.rewrite import Rewrite, apply_batch
from graphrewrite.rules.rule import Rule

F32 = DType(1)


def _ph(name):
    return Node.make(name, "Placeholder", [], {"dtype": F32})


def _splice(match, graph, ctx):
    """Replace the root by its bound tensor x."""
    return Rewrite("splice", match.root, remove=frozenset(match.nodes), redirect=((TensorRef(match.root), match.tensor("x")),))


DOUBLE_NEG = Rule("drop_double_neg", "Neg(Neg(x)) -> x", op("Neg", op("Neg", Tensor("x"))), _splice)


def _chain(n, controls=()):
    nodes = [_ph("x"), Node.make("c", "NoOp")]
    prev = "x"
    for i in range(1, n + 1):
        extra = ["^c"] if i in controls else []
        nodes.append(Node.make(f"n{i}", "Neg", [prev, *extra], {"T": F32}))
        prev = f"n{i}"
    nodes.append(Node.make("y", "Identity", [prev], {"T": F32}))
    return Graph.from_nodes(nodes)


def test_match_binds_and_reports_nodes():
    m = match_at(_chain(2), DOUBLE_NEG.pattern, "n2")
    assert m is not None and m.nodes == ("n2", "n1") and m.tensor("x") == TensorRef("x")


def test_same_name_means_same_tensor():
    g = Graph.from_nodes([_ph("a"), _ph("b"), Node.make("s", "Sub", ["a", "a"]), Node.make("t", "Sub", ["a", "b"])])
    pattern = op("Sub", Tensor("x"), Tensor("x"))
    assert match_at(g, pattern, "s") is not None
    assert match_at(g, pattern, "t") is None


def test_commutative_operands_tried_in_both_orders():
    g = Graph.from_nodes([_ph("a"), Node.make("k", "Const"), Node.make("m", "Mul", ["k", "a"])])
    assert match_at(g, op("Mul", Tensor("x"), op("Const", bind="c")), "m") is not None
    g2 = Graph.from_nodes([_ph("a"), Node.make("k", "Const"), Node.make("m", "Sub", ["k", "a"])])
    assert match_at(g2, op("Sub", Tensor("x"), op("Const")), "m") is None


def test_trace_reports_deepest_failure():
    trace = Trace()
    g = _chain(1)
    assert match_at(g, DOUBLE_NEG.pattern, "n1", trace) is None
    assert trace.node == "x" and "Placeholder" in trace.reason


def test_fixed_point_and_control_forwarding():
    g, stats = saturate(_chain(4, controls={2}), [DOUBLE_NEG], Context(outputs=("y",)))
    assert [n.name for n in g] == ["x", "c", "y"]
    assert g.node("y").inputs == (TensorRef("x"), TensorRef("c", CONTROL))
    assert stats[0].applied == 2


def test_odd_chain_keeps_one_neg():
    g, _ = saturate(_chain(3), [DOUBLE_NEG], Context(outputs=("y",)))
    assert sorted(n.op for n in g) == ["Identity", "Neg", "NoOp", "Placeholder"]


def test_interior_node_used_elsewhere_is_kept():
    g = _chain(2).replace([Node.make("other", "Identity", ["n1"], {"T": F32})])
    g2, _ = saturate(g, [DOUBLE_NEG], Context())
    assert "n1" in g2 and "n2" not in g2
    assert g2.node("y").inputs == (TensorRef("x"),)


def test_protected_root_survives():
    g2, _ = saturate(_chain(2), [DOUBLE_NEG], Context(outputs=("n2:0",)))
    assert "n2" in g2


def test_control_edge_to_removed_node_is_repointed():
    g = _chain(2).replace([Node.make("after", "NoOp", ["^n2"])])
    g2, _ = saturate(g, [DOUBLE_NEG], Context())
    assert g2.node("after").inputs == (TensorRef("x", CONTROL),)


def test_colocation_follows_replacement():
    g = _chain(2).replace([Node.make("w", "Identity", ["y"], {"T": F32, "_class": ["loc:@n2"]})])
    g2, _ = saturate(g, [DOUBLE_NEG], Context())
    assert g2.node("w").get("_class") == ["loc:@x"]


def test_guard_reason_is_recorded():
    rule = Rule("never", "doc", DOUBLE_NEG.pattern, _splice, guard=lambda m, g, c: "not today")
    g, stats = saturate(_chain(2), [rule], Context())
    assert len(g) == len(_chain(2)) and stats[0].rejected == {"not today": 1}


def test_saturation_guard_names_rule():
    def flip(match, graph, ctx):
        node = graph.node(match.root)
        return Rewrite("flip", match.root, add=(node.evolve(inputs=tuple(reversed(node.inputs))),))

    rule = Rule("flip", "Sub(a, b) -> Sub(b, a)", op("Sub", Tensor("a"), Tensor("b")), flip)
    g = Graph.from_nodes([_ph("a"), _ph("b"), Node.make("s", "Sub", ["a", "b"])])
    with pytest.raises(SaturationError, match="flip"):
        saturate(g, [rule], Context(), max_iterations=5)


def test_batch_redirects_reach_new_nodes():
    g = _chain(2)
    new = Node.make("z", "Neg", ["n2"], {"T": F32})
    rw1 = Rewrite("a", "n2", remove=frozenset({"n1", "n2"}), redirect=((TensorRef("n2"), TensorRef("x")),))
    rw2 = Rewrite("b", "y", add=(new,))
    result = apply_batch(g, [rw1, rw2])
    assert result.graph.node("z").inputs == (TensorRef("x"),)
    assert "n2" not in result.graph


def test_numbers_unchanged_in_tensorflow():
    from graphrewrite.runner import run_graph

    before = _chain(4).replace([Node.make("x", "Placeholder", [], {"dtype": F32, "shape": Shape((3,))})])
    after, _ = saturate(before, [DOUBLE_NEG], Context(outputs=("y",)))
    feed = {"x": np.array([1.0, -2.0, 3.5], np.float32)}
    (a,) = run_graph(before.to_graphdef(), feed, ["y"])
    (b,) = run_graph(after.to_graphdef(), feed, ["y"])
    np.testing.assert_array_equal(a, b)


def test_a_growing_rule_is_stopped_by_the_node_bound():
    """``Neg(x) -> Neg(Neg(x))`` doubles the graph every round: stopped once it outgrows its bound."""

    def grow(match, graph, ctx):
        inner = Node.make(f"{match.root}/g{len(graph)}", "Neg", [match.tensor("x")], {"T": F32})
        return Rewrite("grow", match.root, add=(inner, graph.node(match.root).with_inputs([TensorRef(inner.name)])))

    rule = Rule("grow", "Neg(x) -> Neg(Neg(x))", op("Neg", Tensor("x")), grow)
    g = Graph.from_nodes([_ph("x"), Node.make("n", "Neg", ["x"], {"T": F32})])
    with pytest.raises(SaturationError, match=r"grow still firing after \d+ iterations .*nodes 2 -> [\d,]+") as err:
        saturate(g, [rule], Context())
    assert "the graph outgrew its bound of 1,016 nodes" in str(err.value)
