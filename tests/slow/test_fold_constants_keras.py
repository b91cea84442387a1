"""fold_constants on a frozen Keras MobileNetV2: nothing foldable is left, outputs unchanged,
and the result compared with GTT's fold_constants(ignore_errors=true)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from graphrewrite import _tf
from graphrewrite.engine import foldable, opdefs
from graphrewrite.engine.driver import Context
from graphrewrite.engine.graph import Graph
from graphrewrite.engine.validate import lint
from graphrewrite.runner import run_graph
from graphrewrite.stdlib_rules.fold_constants import FOLD_CONSTANTS

pytestmark = pytest.mark.slow

IMAGE = (1, 224, 224, 3)
BUDGET = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def mobilenet():
    """(GraphDef, inputs, outputs) of MobileNetV2 with random BN statistics, frozen."""
    tf = _tf.tf()
    keras = pytest.importorskip("keras")
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=IMAGE[1:], classifier_activation=None)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for variable, low, high in ((layer.gamma, 0.5, 1.5), (layer.beta, -0.2, 0.2),
                                        (layer.moving_mean, -0.2, 0.2), (layer.moving_variance, 0.5, 1.5)):  # fmt: skip
                variable.assign(rng.uniform(low, high, variable.shape).astype(np.float32))
    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec(IMAGE, tf.float32, name="input"))
    frozen = convert_variables_to_constants_v2(concrete)
    inputs = tuple(t.name.split(":")[0] for t in frozen.inputs)
    outputs = tuple(t.name.split(":")[0] for t in frozen.outputs)
    return frozen.graph.as_graph_def(), inputs, outputs


@pytest.fixture(scope="module")
def folded(mobilenet):
    graph_def, inputs, outputs = mobilenet
    ctx = Context(inputs=inputs, outputs=outputs, args={})
    return FOLD_CONSTANTS.run(Graph.from_graphdef(graph_def), ctx)


def _why_left(node, graph):
    """Why a node whose inputs are all Consts was not folded; None when it should have been."""
    if not foldable.op_may_fold(node.op) or foldable.node_types(node) is None:
        return "op"  # stateful, control flow, no outputs (NoOp), no CPU kernel
    fetches = [f"{node.name}:{k}" for k in range(len(opdefs.output_type_enums(node)))]
    values = run_graph(graph.to_graphdef(), {}, fetches)
    if any(np.asarray(v).nbytes > BUDGET for v in values):
        return "size"
    return None


def test_no_foldable_node_is_left(folded):
    left = {}
    for node in folded:
        if node.op == "Const" or not node.inputs:
            continue
        if all(folded.node(r.node).op == "Const" for r in node.inputs):
            left[node.name] = _why_left(node, folded)
    assert None not in left.values(), {n: why for n, why in left.items() if why is None}
    assert set(left.values()) <= {"op", "size"}


def test_outputs_are_unchanged(mobilenet, folded):
    graph_def, inputs, outputs = mobilenet
    image = np.random.default_rng(1).uniform(-1.0, 1.0, IMAGE).astype(np.float32)
    (expected,) = run_graph(graph_def, {inputs[0]: image}, list(outputs))
    (got,) = run_graph(folded.to_graphdef(), {inputs[0]: image}, list(outputs))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert not lint(folded, Context(inputs=inputs, outputs=outputs))


def test_batch_norm_arithmetic_is_folded(mobilenet, folded):
    before = collections.Counter(n.op for n in Graph.from_graphdef(mobilenet[0]))
    after = collections.Counter(n.op for n in folded)
    assert before["Rsqrt"] == 52 and after["Rsqrt"] == 0 and after["Sub"] == 0
    assert after["Identity"] == 1  # only the graph's output; variable reads became Consts
    assert after["Conv2D"] == before["Conv2D"] and after["DepthwiseConv2dNative"] == before["DepthwiseConv2dNative"]


@pytest.mark.gtt
def test_against_gtt(mobilenet, folded, record_property):
    binding = pytest.importorskip("tensorflow.python.util._pywrap_transform_graph")
    graph_def, inputs, outputs = mobilenet
    out = binding.TransformGraphWithStringInputs(
        graph_def.SerializeToString(), ",".join(inputs), ",".join(outputs), "fold_constants(ignore_errors=true)"
    )
    gtt_def = _tf.pb().GraphDef()
    gtt_def.ParseFromString(out)
    gtt = collections.Counter(n.op for n in gtt_def.node)
    ours = collections.Counter(n.op for n in folded)
    record_property("nodes", {"before": len(graph_def.node), "graphrewrite": len(folded), "gtt": len(gtt_def.node)})
    # Documented difference: TF's folder rewires only data edges, so each variable read
    # (Identity of a Const) that the function's NoOp waits on stays in GTT's output, next to
    # the new '__cf__' Const. We replace the node by a Const of the same name, so the NoOp's
    # control edge still resolves, and its old Const input becomes dead.
    assert len(folded) < len(gtt_def.node)
    assert {op: n for op, n in ours.items() if op not in ("Const", "Identity")} == {
        op: n for op, n in gtt.items() if op not in ("Const", "Identity")
    }
    assert gtt["Identity"] - ours["Identity"] == sum(1 for n in graph_def.node if n.op == "Identity") - 1
