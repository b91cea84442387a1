"""Weight compression on a real model: frozen Keras MobileNetV2 (weights=None).

quantize_weights makes the serialized graph ~3.6x smaller, the graph still runs, its outputs
stay within the documented tolerance, and every quantized Const equals GTT's byte for byte
(except the all-zero tensors GTT turns into NaN). The other transforms are smoke-checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import _tf
from graphrewrite.engine.attrvalues import DType
from graphrewrite.stdlib_rules.quantize_nodes import QUANTIZE_NODES
from graphrewrite.stdlib_rules.quantize_weights import QUANTIZE_WEIGHTS
from graphrewrite.stdlib_rules.rule_files import BY_NAME
from graphrewrite.stdlib_rules.tolerances import tolerance_for
from tests.helpers.compression import apply, const_value, gtt, nodes, run

pytestmark = pytest.mark.slow
LOGITS = "mobilenetv2_1.00_224/predictions/BiasAdd"


@pytest.fixture(scope="module")
def mobilenet():
    """(graph_def, input, output, logits, feeds, reference outputs)."""
    tf = _tf.tf()
    keras = pytest.importorskip("keras")
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    rng = np.random.RandomState(0)
    for layer in model.layers:  # untrained statistics would make batch norm an identity
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.randn(*layer.moving_mean.shape).astype(np.float32) * 0.1)
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, layer.moving_variance.shape).astype(np.float32))
    spec = tf.TensorSpec([1, 224, 224, 3], tf.float32)
    frozen = convert_variables_to_constants_v2(tf.function(lambda x: model(x, training=False)).get_concrete_function(spec))
    graph_def = frozen.graph.as_graph_def()
    inp, out = frozen.inputs[0].name.split(":")[0], frozen.outputs[0].name.split(":")[0]
    logits = next(n.name for n in graph_def.node if n.name.endswith("predictions_1/BiasAdd") or n.name == LOGITS)
    feeds = [{inp: rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)} for _ in range(2)]
    reference = [run(graph_def, feed, [out, logits]) for feed in feeds]
    return graph_def, inp, out, logits, feeds, reference


def assert_within(graph_def, mobilenet, transforms):
    _, _, out, logits, feeds, reference = mobilenet
    rtol, atol = tolerance_for(transforms)
    for feed, want in zip(feeds, reference, strict=True):
        got = run(graph_def, feed, [out, logits])
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        assert not np.array_equal(got[1], want[1])  # the weights really changed


def test_quantize_weights_makes_mobilenet_four_times_smaller_and_equal_to_gtt(mobilenet):
    graph_def, inp, out, *_ = mobilenet
    quantized, _ = apply(QUANTIZE_WEIGHTS, graph_def, [inp], [out])
    ratio = quantized.ByteSize() / graph_def.ByteSize()
    assert ratio < 0.3, ratio  # 0.28: the rest is Consts under 1024 elements
    assert_within(quantized, mobilenet, ["quantize_weights"])

    mine, theirs = nodes(quantized), nodes(gtt(graph_def, [inp], [out], "quantize_weights"))
    names = [n for n in theirs if n.endswith("_quantized_const")]
    assert len(names) > 50 and {n for n in mine if n.endswith("_quantized_const")} == set(names)
    zero_tensors = 0
    for const in names:
        base = const[: -len("_quantized_const")]
        for suffix in ("_quantized_const", "_quantized_min", "_quantized_max"):
            a, b = const_value(mine[base + suffix]), const_value(theirs[base + suffix])
            if suffix == "_quantized_max" and b == np.finfo(np.float32).tiny and a == 1.0:
                zero_tensors += 1  # an all-zero tensor: GTT's range dequantizes to NaN
                continue
            assert a.tobytes() == b.tobytes(), base + suffix
    assert zero_tensors >= 1  # Conv_1_bn's beta (1280 zeros)


def test_gtt_quantized_mobilenet_computes_nan_where_ours_does_not(mobilenet):
    graph_def, inp, out, _, feeds, _ = mobilenet
    (theirs,) = run(gtt(graph_def, [inp], [out], "quantize_weights"), feeds[0], [out])
    (mine,) = run(apply(QUANTIZE_WEIGHTS, graph_def, [inp], [out])[0], feeds[0], [out])
    assert np.isnan(theirs).any() and np.isfinite(mine).all()


def test_per_channel_scaled_weights_run_within_tolerance(mobilenet):
    graph_def, inp, out, *_ = mobilenet
    quantized, _ = apply(QUANTIZE_WEIGHTS, graph_def, [inp], [out], mode="SCALED", per_channel=True)
    assert quantized.ByteSize() / graph_def.ByteSize() < 0.3
    assert_within(quantized, mobilenet, [("quantize_weights", {"mode": "SCALED"})])


def test_float16_weights_halve_the_graph(mobilenet):
    graph_def, inp, out, *_ = mobilenet
    cast, _ = apply(BY_NAME["cast_weights"], graph_def, [inp], [out], dtype=DType.named("float16"))
    assert cast.ByteSize() / graph_def.ByteSize() < 0.55
    assert_within(cast, mobilenet, ["cast_weights"])


def test_eight_bit_kernels_run_on_mobilenet(mobilenet):
    graph_def, inp, out, *_ = mobilenet
    weights, _ = apply(QUANTIZE_WEIGHTS, graph_def, [inp], [out])
    quantized, _ = apply(QUANTIZE_NODES, weights, [inp], [out])
    ops = {n.op for n in quantized.node}
    assert {"QuantizedConv2D", "QuantizedRelu6", "QuantizedAdd", "QuantizedMatMul"} <= ops
    assert_within(quantized, mobilenet, ["quantize_weights", "quantize_nodes"])
