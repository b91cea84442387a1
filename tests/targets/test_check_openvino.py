"""``check --target=openvino`` agrees with the real OpenVINO TensorFlow frontend."""

from __future__ import annotations

import numpy as np
import pytest

ov = pytest.importorskip("openvino")
tf = pytest.importorskip("tensorflow")

from tests.helpers.target_probes import assert_check_agrees, probe_graph, verdicts  # noqa: E402

KERNEL = np.full([3, 3, 4, 4], 0.1, np.float32)

# name -> body over a [1, 8, 8, 4] float input; some convert, some do not.
BODIES = {
    "conv_relu": lambda x: tf.nn.relu(tf.nn.conv2d(x, KERNEL, 1, "SAME")),
    "rsqrt_identity_n": lambda x: tf.identity_n([tf.math.rsqrt(x)])[0],
    "switch_merge": lambda x: tf.raw_ops.Merge(inputs=list(tf.raw_ops.Switch(data=x, pred=tf.reduce_mean(x) > 0.0)))[0],
    "erf_tile": lambda x: tf.tile(tf.math.erf(x), [1, 2, 1, 1]),
    "lgamma": lambda x: tf.math.lgamma(x),
    "cumprod": lambda x: tf.math.cumprod(x, axis=1),
    "digamma": lambda x: tf.math.digamma(x),
}


def openvino_loads(path) -> bool:
    """convert_model, compile on CPU, one inference."""
    try:
        compiled = ov.Core().compile_model(ov.convert_model(str(path)), "CPU")
        compiled({compiled.inputs[0]: np.ones((1, 8, 8, 4), np.float32)})
    except Exception:  # OpConversionFailure, GeneralFailure, RuntimeError from the frontend
        return False
    return True


@pytest.mark.parametrize("name", sorted(BODIES))
def test_check_agrees_with_openvino(name, tmp_path):
    graph_def = probe_graph(BODIES[name])
    path = tmp_path / f"{name}.pb"
    path.write_bytes(graph_def.SerializeToString())
    assert_check_agrees("openvino", graph_def, openvino_loads(path), str(path))


def test_both_verdicts_occur():
    assert verdicts("openvino", map(probe_graph, BODIES.values())) == {True, False}
