"""fold_batch_norms and fold_old_batch_norms against GTT's own C++ code, on graphs GTT handles:
the same ops afterwards, the same node names for the results, the same folded values."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from graphrewrite.engine.graph import Graph
from graphrewrite.stdlib_rules import rule_files
from tests.helpers.rule_graphs import apply, const, graph, node, normal, placeholder, run

pytestmark = pytest.mark.gtt
S1 = [1, 1, 1, 1]


def _gtt(before: Graph, inputs: list[str], outputs: list[str], transforms: str) -> Graph:
    binding = pytest.importorskip("tensorflow.python.util._pywrap_transform_graph")
    out = binding.TransformGraphWithStringInputs(
        before.to_graphdef().SerializeToString(), ",".join(inputs), ",".join(outputs), transforms
    )
    from graphrewrite import _tf

    graph_def = _tf.pb().GraphDef()
    graph_def.ParseFromString(out)
    return Graph.from_graphdef(graph_def)


def _compare(before: Graph, ours: Graph, theirs: Graph, output: str, x: np.ndarray) -> None:
    assert Counter(n.op for n in ours) == Counter(n.op for n in theirs)
    assert ours.node(output).op == theirs.node(output).op
    (a,) = run(ours, {"x": x}, [output])
    (b,) = run(theirs, {"x": x}, [output])
    (want,) = run(before, {"x": x}, [output])
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("conv_op", ["Conv2D", "DepthwiseConv2dNative", "MatMul"])
def test_fold_batch_norms_matches_gtt(conv_op: str) -> None:
    if conv_op == "MatMul":
        nodes, x, channels = [const("w", normal(3, 5)), node("conv", "MatMul", "x", "w")], normal(2, 3), 5
    else:
        w = normal(3, 3, 3, 5 if conv_op == "Conv2D" else 2)
        nodes = [const("w", w), node("conv", conv_op, "x", "w", strides=S1, padding="SAME")]
        x, channels = normal(1, 4, 4, 3), 5 if conv_op == "Conv2D" else 6
    before = graph(placeholder("x"), *nodes, const("s", normal(channels)), node("mul", "Mul", "conv", "s"))
    ours, _ = apply(rule_files.BY_NAME["fold_batch_norms"], before, ["x"], ["mul"])
    theirs = _gtt(before, ["x"], ["mul"], "fold_batch_norms")
    _compare(before, ours, theirs, "mul", x)
    np.testing.assert_allclose(ours.node("w").value(), theirs.node("w").value(), rtol=1e-6)


@pytest.mark.parametrize("conv_op", ["Conv2D", "DepthwiseConv2dNative"])
def test_fold_old_batch_norms_matches_gtt(conv_op: str) -> None:
    w = normal(3, 3, 2, 4 if conv_op == "Conv2D" else 2)
    stats = [
        const("gamma", normal(4)),
        const("beta", normal(4)),
        const("mean", normal(4)),
        const("var", np.abs(normal(4)) + 0.5),
    ]
    before = graph(
        placeholder("x"),
        const("w", w),
        node("conv", conv_op, "x", "w", strides=S1, padding="SAME"),
        *stats,
        node("bn", "FusedBatchNorm", "conv", "gamma", "beta", "mean", "var", is_training=False, epsilon=0.001),
    )
    ours, _ = apply(rule_files.BY_NAME["fold_old_batch_norms"], before, ["x"], ["bn"])
    theirs = _gtt(before, ["x"], ["bn"], "fold_old_batch_norms")
    _compare(before, ours, theirs, "bn", normal(1, 5, 5, 2))
    np.testing.assert_allclose(ours.node("w").value(), theirs.node("w").value(), rtol=1e-6)
    offset = ours.node(ours.node("bn").inputs[1].node).value()
    np.testing.assert_allclose(offset, theirs.node("conv_bn_offset").value(), rtol=1e-5, atol=1e-6)
