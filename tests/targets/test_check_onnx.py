"""``check --target=onnx`` agrees with the real tf2onnx + ONNX Runtime (through targets.runtimes)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")
tf = pytest.importorskip("tensorflow")

from graphrewrite.targets import checks, runtimes  # noqa: E402

tf1 = tf.compat.v1
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
    graph = tf.Graph()
    with graph.as_default():
        tf.identity(body(tf1.placeholder(tf.float32, SHAPE, name="x")), name="out")
    return graph.as_graph_def()


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
    report = checks.check(graph_def, "onnx")
    assert report.loads == onnx_loads(graph_def), checks.render(report, name)


def test_both_verdicts_occur():
    verdicts = {checks.check(build(body), "onnx").loads for body in BODIES.values()}
    assert verdicts == {True, False}
