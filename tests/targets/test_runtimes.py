"""The deployment runtimes, for real: OpenCV 4.x dnn, TFLite, OpenVINO and ONNX Runtime (tf2onnx).

Small graphs built here (conv/relu/pool/dense, a 4-D and a 2-D output) load in each runtime and
match TensorFlow; a graph with an op a runtime lacks is a LoadError with the runtime's message.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from graphrewrite.engine.errors import DependencyError, NameNotFoundError  # noqa: E402
from graphrewrite.targets import runtimes  # noqa: E402

TARGETS = ("opencv", "tflite", "openvino", "onnx")
SHAPE = (1, 16, 16, 3)


def small_cnn():
    """conv -> bias -> relu -> max pool (output ``pool``) -> reshape -> dense -> softmax (``out``)."""
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, SHAPE, name="x")
        w = tf.constant(rng.normal(size=(3, 3, 3, 8)).astype(np.float32) * 0.3)
        b = tf.constant(rng.normal(size=8).astype(np.float32))
        y = tf.nn.max_pool2d(tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, w, 1, "SAME"), b)), 2, 2, "VALID", name="pool")
        dense = tf.constant(rng.normal(size=(512, 10)).astype(np.float32) * 0.05)
        tf.nn.softmax(tf.matmul(tf.reshape(y, [1, 512]), dense), name="out")
    return graph.as_graph_def()


def with_op(body):
    """``out = body(x) * 2`` over a [1, 4, 4, 3] input."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 4, 4, 3], name="x")
        tf.multiply(body(x), 2.0, name="out")
    return graph.as_graph_def()


def load(target, graph_def, outputs, shape=SHAPE):
    return runtimes.get_runtime(target).load(graph_def, inputs=["x"], outputs=outputs, input_shapes={"x": shape})


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_matches_tensorflow(target):
    graph_def = small_cnn()
    feeds = {"x": np.random.default_rng(1).normal(size=SHAPE).astype(np.float32)}
    expected = load("tf", graph_def, ["pool", "out"]).run(feeds)
    model = load(target, graph_def, ["pool", "out"])
    actual = model.run(feeds)
    # OpenCV computes NCHW: the 4-D output must come back in TF's NHWC layout.
    assert [a.shape for a in actual] == [(1, 8, 8, 8), (1, 10)]
    for want, have in zip(expected, actual, strict=True):
        np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-5)
    assert model.layers is not None and model.layers > 0
    assert model.convert_seconds >= 0 and model.load_seconds > 0


@pytest.mark.parametrize("target", TARGETS)
def test_missing_op_is_a_load_error_with_the_runtimes_message(target):
    graph_def = with_op(tf.math.digamma)  # no runtime here implements Digamma
    with pytest.raises(runtimes.LoadError) as info:
        load(target, graph_def, ["out"], shape=(1, 4, 4, 3))
    message = str(info.value)
    assert message.startswith(f"{target}: ") and "Digamma" in message
    assert "\n" not in message and "Traceback" not in message


def test_op_one_runtime_lacks_loads_in_another():
    graph_def = with_op(tf.math.erf)  # TFLite has no builtin Erf; OpenVINO has one
    with pytest.raises(runtimes.LoadError, match=r"tf\.Erf"):
        load("tflite", graph_def, ["out"], shape=(1, 4, 4, 3))
    feeds = {"x": np.linspace(-2, 2, 48, dtype=np.float32).reshape(1, 4, 4, 3)}
    np.testing.assert_allclose(load("openvino", graph_def, ["out"], (1, 4, 4, 3)).run(feeds)[0],
                               load("tf", graph_def, ["out"], (1, 4, 4, 3)).run(feeds)[0], rtol=1e-5, atol=1e-6)  # fmt: skip


def test_unknown_runtime_suggests_a_name():
    with pytest.raises(NameNotFoundError, match="did you mean 'openvino'"):
        runtimes.get_runtime("openvin")


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    with pytest.raises(DependencyError, match=r"pip install 'graphrewrite\[targets\]'"):
        load("opencv", small_cnn(), ["out"])
