"""``check --target=tflite`` agrees with the real TFLite converter and interpreter."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from graphrewrite.targets import checks  # noqa: E402
from tests.helpers.target_probes import assert_check_agrees, probe_graph, verdicts  # noqa: E402

tf1 = tf.compat.v1
KERNEL = np.full([3, 3, 4, 4], 0.1, np.float32)


def switch_merge(x, pred):
    return tf.raw_ops.Merge(inputs=list(tf.raw_ops.Switch(data=x, pred=pred)))[0] * 2.0


# name -> (input shape, body); some convert with builtin ops, some do not.
CASES = {
    "conv_relu": ([1, 8, 8, 4], lambda x: tf.nn.relu(tf.nn.conv2d(x, KERNEL, 1, "SAME"))),
    "rsqrt_neg": ([1, 8, 8, 4], lambda x: -tf.math.rsqrt(x)),
    "gather": ([1, 8, 8, 4], lambda x: tf.gather(x, [0, 1], axis=3)),
    "identity_n": ([1, 8, 8, 4], lambda x: tf.identity_n([x * 2.0])[0]),
    "switch_const": ([1, 8, 8, 4], lambda x: switch_merge(x, tf.constant(True))),
    "switch_computed": ([1, 8, 8, 4], lambda x: switch_merge(x, tf.reduce_mean(x) > 0.0)),
    "dynamic_batch": ([None, 8, 8, 4], lambda x: tf.nn.relu(x)),
    "dynamic_spatial": ([1, None, None, 4], lambda x: tf.nn.relu(tf.nn.conv2d(x, KERNEL, 1, "SAME"))),
    "erf": ([1, 8, 8, 4], lambda x: tf.math.erf(x) + 1.0),
    "cumprod": ([1, 8, 8, 4], lambda x: tf.math.cumprod(x, axis=1)),
    "matrix_inverse": ([1, 4, 4], lambda x: tf.linalg.inv(x)),
}


def build(shape, body):
    return probe_graph(body, shape, output="out")


def tflite_loads(path) -> bool:
    """Convert with builtin ops only, then allocate and invoke in the interpreter."""
    converter = tf1.lite.TFLiteConverter.from_frozen_graph(str(path), ["x"], ["out"])
    try:
        flatbuffer = converter.convert()
        interpreter = tf.lite.Interpreter(model_content=flatbuffer)
        interpreter.allocate_tensors()
        interpreter.invoke()
    except Exception:  # the converter raises ConverterError, ValueError, RuntimeError...
        return False
    return True


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_agrees_with_tflite(name, tmp_path):
    graph_def = build(*CASES[name])
    path = tmp_path / f"{name}.pb"
    path.write_bytes(graph_def.SerializeToString())
    assert_check_agrees("tflite", graph_def, tflite_loads(path), str(path))


def test_finding_for_erf_names_node_and_remedy():
    report = checks.check(build(*CASES["erf"]), "tflite")
    assert [(f.node, f.op) for f in report.findings] == [("Erf", "Erf")]
    assert "SELECT_TF_OPS" in report.findings[0].fix


def test_both_verdicts_occur():
    assert verdicts("tflite", (build(*case) for case in CASES.values())) == {True, False}
