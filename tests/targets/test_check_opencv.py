"""``check --target=opencv`` agrees with the real OpenCV 4.x dnn on graphs that do and do not load."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
tf = pytest.importorskip("tensorflow")

from graphrewrite.targets import checks  # noqa: E402
from tests.helpers.target_probes import assert_check_agrees, probe_graph, verdicts  # noqa: E402

tf1 = tf.compat.v1
KERNEL = np.full([3, 3, 4, 4], 0.1, np.float32)

# name -> body over a [1, 8, 8, 4] float input; some load in OpenCV 4.x, some do not.
BODIES = {
    "conv_relu": lambda x: tf.nn.relu(tf.nn.conv2d(x, KERNEL, 1, "SAME")),
    "swish": lambda x: x * tf.sigmoid(x),
    "sub_maximum": lambda x: tf.maximum(x - 1.0, x * 2.0),
    "mean_squeeze": lambda x: tf.squeeze(tf.reduce_mean(x, axis=[1, 2], keepdims=True), [1, 2]),
    "noop_grouped": lambda x: [tf.group(x * 2.0), tf.nn.relu(x)][1],
    "noop_alone": lambda x: [tf.raw_ops.NoOp(), tf.nn.relu(x)][1],
    "identity_n": lambda x: tf.identity_n([x * 2.0])[0],
    "minimum": lambda x: tf.minimum(x, x * 2.0),
    "rsqrt": lambda x: tf.math.rsqrt(x),
    "neg": lambda x: -x,
    "tile": lambda x: tf.tile(x, [1, 2, 1, 1]),
    "gather": lambda x: tf.gather(x, [0, 1], axis=3),
    "cond_const": lambda x: tf.raw_ops.Merge(inputs=list(tf.raw_ops.Switch(data=x, pred=tf.constant(True))))[0] * 2.0,
    # Keras' batch norm: fused by OpenCV's simplifier, Rsqrt included, also behind Identity reads
    "keras_batch_norm": lambda x: _batch_norm(x, gamma=True),
    "keras_batch_norm_no_gamma": lambda x: _batch_norm(x, gamma=False),
    "keras_batch_norm_identity_reads": lambda x: _batch_norm(x, gamma=True, read=tf.identity),
    # the same Rsqrt outside that shape does not load
    "rsqrt_of_const_scale": lambda x: x * tf.math.rsqrt(_c([1.0, 2.0, 3.0, 4.0])),
    "rsqrt_of_sum_scale": lambda x: x * tf.math.rsqrt(_c([1.0, 2.0, 3.0, 4.0]) + _c(1e-3)),
}


def _c(values):
    return tf.constant(np.asarray(values, np.float32))


def _batch_norm(x, *, gamma, read=lambda t: t):
    var, eps, beta, mean = (read(_c(v)) for v in ([1.0, 2.0, 3.0, 4.0], 1e-3, [0.1] * 4, [0.0, 0.1, 0.2, 0.3]))
    mul = tf.math.rsqrt(var + eps)
    if gamma:
        mul = mul * read(_c([0.5, 0.6, 0.7, 0.8]))
    return x * mul + (beta - mean * mul)


def opencv_loads(path) -> bool:
    """Load and run once: OpenCV 4.x creates layers lazily, so an unknown op fails at forward()."""
    try:
        net = cv2.dnn.readNetFromTensorflow(str(path))
        net.setInput(np.random.default_rng(0).random((1, 4, 8, 8), dtype=np.float32))
        net.forward()
    except cv2.error:
        return False
    return True


@pytest.mark.parametrize("name", sorted(BODIES))
def test_check_agrees_with_opencv(name, tmp_path):
    graph_def = probe_graph(BODIES[name])
    path = tmp_path / f"{name}.pb"
    path.write_bytes(graph_def.SerializeToString())
    assert_check_agrees("opencv", graph_def, opencv_loads(path), str(path))


def test_both_verdicts_occur():
    assert verdicts("opencv", map(probe_graph, BODIES.values())) == {True, False}


def _without_data(graph_def, name):
    """*graph_def* with Const *name* in TensorFlow's compact all-zeros form (as grappler writes it)."""
    for node in graph_def.node:
        if node.name == name:
            node.attr["value"].tensor.ClearField("tensor_content")
            node.attr["value"].tensor.ClearField("float_val")
    return graph_def


# Found by `graphrewrite reduce --target=opencv` on EfficientNetB0 after grappler: 517 nodes -> 3.
EMPTY_CONSTANTS = {
    "added": lambda x: x + tf.constant(np.ones((1, 1, 1, 4), np.float32), name="c"),
    "multiplied_scalar": lambda x: x * tf.constant(1.0, name="c"),
    "conv_weights": lambda x: tf.nn.conv2d(x, tf.constant(KERNEL, name="c"), 1, "SAME"),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CONSTANTS))
@pytest.mark.parametrize("empty", [False, True])
def test_constants_stored_without_data_agree_with_opencv(name, empty, tmp_path):
    graph_def = probe_graph(EMPTY_CONSTANTS[name])
    if empty:
        graph_def = _without_data(graph_def, "c")
    path = tmp_path / f"{name}.pb"
    path.write_bytes(graph_def.SerializeToString())
    assert_check_agrees("opencv", graph_def, opencv_loads(path), str(path))
    assert [f.node for f in checks.check(graph_def, "opencv").findings] == (["c"] if empty else [])


def test_switch_on_a_computed_predicate_is_a_finding():
    def body(x):
        pred = tf1.placeholder(tf.bool, [], name="training")
        return tf.raw_ops.Merge(inputs=list(tf.raw_ops.Switch(data=x, pred=pred)))[0]

    report = checks.check(probe_graph(body), "opencv")
    assert [(f.node, f.op) for f in report.findings] == [("Switch", "Switch")]
    assert "fold_constant_switch" in report.findings[0].fix


def test_cli_json_and_exit_status(tmp_path):
    bad, good = tmp_path / "bad.pb", tmp_path / "good.pb"
    bad.write_bytes(probe_graph(BODIES["identity_n"]).SerializeToString())
    good.write_bytes(probe_graph(BODIES["conv_relu"]).SerializeToString())
    cmd = [sys.executable, "-m", "graphrewrite", "check", "--target=opencv"]
    out = subprocess.run([*cmd, "--json", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["loads"] is False
    assert [(f["op"], f["fix"]) for f in report["findings"]] == [("IdentityN", checks.load_target("opencv").fixes["IdentityN"])]
    ok = subprocess.run([*cmd, str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "expected to load" in ok.stdout


def test_unknown_target_is_one_line(tmp_path):
    path = tmp_path / "g.pb"
    path.write_bytes(probe_graph(BODIES["conv_relu"]).SerializeToString())
    out = subprocess.run([sys.executable, "-m", "graphrewrite", "check", "--target=opencvv", str(path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert "unknown target 'opencvv'" in out.stderr and "Traceback" not in out.stderr
