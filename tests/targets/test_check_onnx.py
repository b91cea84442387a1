"""``check --target=onnx`` agrees with the real tf2onnx + ONNX Runtime (through targets.runtimes)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")
tf = pytest.importorskip("tensorflow")

from graphrewrite.targets import runtimes  # noqa: E402
from tests.helpers.target_probes import assert_check_agrees, probe_graph, verdicts  # noqa: E402

KERNEL = np.full([3, 3, 4, 4], 0.1, np.float32)
SHAPE = (1, 8, 8, 4)

BODIES = {
    "conv_relu": lambda x: tf.nn.relu(tf.nn.conv2d(x, KERNEL, 1, "SAME")),
    "rsqrt_identity_n": lambda x: tf.identity_n([tf.math.rsqrt(x + 2.0)])[0],
    "erf_tile": lambda x: tf.tile(tf.math.erf(x), [1, 2, 1, 1]),
    "lgamma": lambda x: tf.math.lgamma(x + 2.0),
    "digamma": lambda x: tf.math.digamma(x + 2.0),
    "cumprod": lambda x: tf.math.cumprod(x, axis=1),
    "bessel": lambda x: tf.math.bessel_i0e(x),
}


def build(body):
    return probe_graph(body, SHAPE, output="out")


def onnx_loads(graph_def) -> bool:
    try:
        model = runtimes.get_runtime("onnx").load(graph_def, inputs=["x"], outputs=["out"], input_shapes={"x": SHAPE})
        model.run({"x": np.ones(SHAPE, np.float32)})
    except (runtimes.LoadError, runtimes.RunError):
        return False
    return True


@pytest.mark.parametrize("name", sorted(BODIES))
def test_check_agrees_with_tf2onnx(name):
    graph_def = build(BODIES[name])
    assert_check_agrees("onnx", graph_def, onnx_loads(graph_def), name)


def test_both_verdicts_occur():
    assert verdicts("onnx", map(build, BODIES.values())) == {True, False}
