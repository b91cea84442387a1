"""drop_inert_control_edges: control waits on input-less Consts and NoOps order nothing."""

from __future__ import annotations

import numpy as np

from graphrewrite.engine.attrvalues import DType, Shape
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef
from graphrewrite.engine.validate import lint
from graphrewrite.runner import run_graph
from graphrewrite.stdlib_rules.control_deps import drop_inert_control_edges

F32 = DType(1)


def _keras_like() -> Graph:
    """What TF2 freezing leaves: Identity(out, ^NoOp), the NoOp waiting on weight Consts."""
    w = np.ones((3,), np.float32)
    return Graph.from_nodes([
        Node.make("x", "Placeholder", [], {"dtype": F32, "shape": Shape((3,))}),
        Node.make("w", "Const", [], {"dtype": F32, "value": w}),
        Node.make("v", "Const", [], {"dtype": F32, "value": w * 2}),
        Node.make("init", "NoOp", ["^x"]),
        Node.make("guarded", "Const", ["^init"], {"dtype": F32, "value": w}),
        Node.make("mul", "Mul", ["x", "w"], {"T": F32}),
        Node.make("add", "AddV2", ["mul", "guarded"], {"T": F32}),
        Node.make("wait", "NoOp", ["^w", "^v"]),
        Node.make("y", "Identity", ["add", "^wait"], {"T": F32}),
    ])  # fmt: skip


def test_drops_waits_on_consts_and_the_emptied_noop():
    g = drop_inert_control_edges(_keras_like())
    assert "wait" not in g
    assert g.consumers("w") == ("mul",)
    assert not g.has_consumers("v")  # now dead: pruning it is fold_constants' job
    assert g.node("y").inputs == (TensorRef("add"),)
    assert not lint(g)


def test_keeps_waits_that_order_something():
    g = drop_inert_control_edges(_keras_like())
    assert g.node("guarded").inputs == (TensorRef("init", CONTROL),)
    assert g.node("init").inputs == (TensorRef("x", CONTROL),)


def test_protected_noop_survives():
    g = drop_inert_control_edges(_keras_like(), protected=frozenset({"wait"}))
    assert "wait" in g and not g.node("wait").inputs


def test_outputs_unchanged():
    before = _keras_like()
    after = drop_inert_control_edges(before)
    feed = {"x": np.array([1.0, -2.0, 3.0], np.float32)}
    np.testing.assert_array_equal(run_graph(before.to_graphdef(), feed, ["y"])[0], run_graph(after.to_graphdef(), feed, ["y"])[0])
