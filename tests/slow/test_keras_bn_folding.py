"""Batch-norm folding on real frozen Keras 3 models (weights=None, batch-norm statistics
randomised so that folding is not an identity), through the public API and GTT's mobile recipe:

    strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true)
    fold_batch_norms fold_old_batch_norms merge_duplicate_nodes sort_by_execution_order

Afterwards no Rsqrt and no batch-norm op is left, the outputs match the original graph's, and
the graph is no larger than grappler makes it from the same input in the same run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

import graphrewrite
from graphrewrite.runner import run_graph

pytestmark = pytest.mark.slow

PIPELINE = (
    "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true) "
    "fold_batch_norms fold_old_batch_norms merge_duplicate_nodes sort_by_execution_order"
)
MODELS = {  # name: input size
    "MobileNetV2": 224,
    "ResNet50": 224,
    "InceptionV3": 299,
    "EfficientNetB0": 224,
    "DenseNet121": 224,
}
BATCH_NORM_OPS = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "BatchNormWithGlobalNormalization"}


def _freeze(name: str, size: int) -> tuple[Any, str, str]:
    keras = pytest.importorskip("keras")
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3))
    rng = np.random.default_rng(0)
    for layer in model.layers:  # fresh statistics would make every batch norm an identity
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, layer.moving_variance.shape))
            if layer.gamma is not None:
                layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape))
            if layer.beta is not None:
                layer.beta.assign(rng.normal(0, 0.1, layer.beta.shape))
    spec = tf.TensorSpec((1, size, size, 3), tf.float32)
    frozen = convert_variables_to_constants_v2(tf.function(lambda x: model(x, training=False)).get_concrete_function(spec))
    return frozen.graph.as_graph_def(), frozen.inputs[0].op.name, frozen.outputs[0].op.name


@pytest.fixture(scope="module", params=list(MODELS))
def folded(request: pytest.FixtureRequest) -> dict[str, Any]:
    name = request.param
    size = MODELS[name]
    graph_def, inp, out = _freeze(name, size)
    after = graphrewrite.transform_graph(graph_def, [inp], [out], PIPELINE)
    x = np.random.default_rng(1).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    (want,) = run_graph(graph_def, {inp: x}, [out])
    (got,) = run_graph(after, {inp: x}, [out])
    return {"name": name, "before": graph_def, "after": after, "want": want, "got": got, "output": out}


def test_no_batch_norm_is_left(folded: dict[str, Any]) -> None:
    before = Counter(n.op for n in folded["before"].node)
    assert before["Rsqrt"] > 0  # the model really has batch norms to fold
    ops = Counter(n.op for n in folded["after"].node)
    assert ops["Rsqrt"] == 0
    assert not BATCH_NORM_OPS & set(ops)


def test_outputs_match(folded: dict[str, Any]) -> None:
    np.testing.assert_allclose(folded["got"], folded["want"], rtol=1e-4, atol=1e-5)


def test_node_count_at_most_grappler(folded: dict[str, Any]) -> None:
    """Measured in the same run: grappler's inference optimizers on the same frozen graph."""
    from benchmarks.anchors import grappler_tool

    ours = len(folded["after"].node)
    theirs = len(grappler_tool(folded["before"], [], [folded["output"]], "").node)
    assert ours <= theirs, f"{folded['name']}: {ours} nodes after the pipeline, grappler reaches {theirs}"
