"""``graphrewrite compare``: TF against the real runtimes, through the command line and the API."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from graphrewrite.inputs import save_npz  # noqa: E402
from graphrewrite.targets import compare  # noqa: E402
from tests.targets.test_runtimes import SHAPE, small_cnn, with_op  # noqa: E402

TARGETS = ("opencv", "tflite", "openvino", "onnx")


def run_cli(*args):
    cmd = [sys.executable, "-m", "graphrewrite", "compare", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def cnn_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "cnn.pb"
    path.write_bytes(small_cnn().SerializeToString())
    return path


def test_every_runtime_matches_tensorflow(cnn_path):
    out = run_cli(cnn_path, *(f"--target={t}" for t in TARGETS), "--inputs=x", "--outputs=pool,out", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert [t["target"] for t in report["targets"]] == list(TARGETS)
    for target in report["targets"]:
        assert target["loaded"] and target["ok"] and target["error"] == "", target
        assert [o["name"] for o in target["outputs"]] == ["pool", "out"]
        assert all(o["max_abs"] < 1e-4 for o in target["outputs"]), target
        assert target["layers"] > 0


def test_text_report_defaults_inputs_and_outputs(cnn_path):
    out = run_cli(cnn_path, "--target=opencv")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "all targets match TensorFlow" in out.stdout
    assert [line.split()[:2] for line in out.stdout.splitlines() if line.startswith("opencv")] == [["opencv", "out"]]


def test_input_file_values_are_used(cnn_path, tmp_path):
    # A value of the wrong shape from the .npz must reach the runtimes: the graph refuses it.
    save_npz(tmp_path / "x.npz", {"x": np.ones((1, 8, 8, 3), np.float32)})
    out = run_cli(cnn_path, "--target=tflite", f"--input_file={tmp_path / 'x.npz'}")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    save_npz(tmp_path / "x.npz", {"x": np.ones(SHAPE, np.float32)})
    assert run_cli(cnn_path, "--target=tflite", f"--input_file={tmp_path / 'x.npz'}").returncode == 0


def test_load_failure_exits_1_with_the_runtimes_message(tmp_path):
    path = tmp_path / "digamma.pb"
    path.write_bytes(with_op(tf.math.digamma).SerializeToString())
    out = run_cli(path, "--target=openvino", "--target=tflite")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "openvino: No conversion rule found for operations: Digamma" in out.stdout
    assert "tflite: 'tf.Digamma' op is neither a custom op nor a flex op" in out.stdout
    assert "Traceback" not in out.stderr


def test_wrong_numbers_exit_1():
    # ONNX Runtime's RandomUniform draws other numbers than TensorFlow's for the same seed: the
    # graph loads and runs, and compare must see that the outputs disagree.
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 4, 4, 3], name="x")
        tf.add(x, tf.random.uniform([1, 4, 4, 3], seed=1), name="out")
    feeds = {"x": np.ones((1, 4, 4, 3), np.float32)}
    report = compare.compare_targets(graph.as_graph_def(), ["onnx"], inputs=["x"], outputs=["out"], feeds=feeds)
    (result,) = report.results
    assert result.loaded and not result.error and not report.ok
    assert result.outputs[0].max_abs > 1e-2
    assert "FAILED: onnx differs from TensorFlow on out" in compare.render(report)


def test_unknown_target_is_one_line():
    out = run_cli("missing.pb", "--target=opencvv")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_keras_mobilenet_v2_in_every_runtime(tmp_path):
    keras = pytest.importorskip("keras")
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35, classifier_activation=None)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((1, 96, 96, 3), tf.float32, name="input")
    )
    frozen = convert_variables_to_constants_v2(concrete)
    path = tmp_path / "mobilenet_v2.pb"
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    output = frozen.outputs[0].name.split(":")[0]
    out = run_cli(path, *(f"--target={t}" for t in TARGETS), "--inputs=input", f"--outputs={output}", "--json")
    report = json.loads(out.stdout)
    verdicts = {t["target"]: (t["ok"], t["error"][:120]) for t in report["targets"]}
    # The raw frozen MobileNetV2 loads and matches everywhere (benchmarks/README.md, deployment targets).
    assert out.returncode == 0 and all(ok for ok, _ in verdicts.values()), verdicts
