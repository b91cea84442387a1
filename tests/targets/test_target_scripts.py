"""``transform --target=opencv`` on the five Keras application graphs: the result loads in the
real OpenCV 4.x dnn and matches TensorFlow within 1e-3, and ``check`` agrees with OpenCV on the
prepared graphs and on the raw frozen ones."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import graphrewrite  # noqa: E402
from graphrewrite.runner import run_graph  # noqa: E402
from graphrewrite.stdlib_rules.target_scripts import TARGET_SCRIPTS, target_script  # noqa: E402
from graphrewrite.targets import checks  # noqa: E402

MODELS = {"MobileNetV2": 224, "ResNet50": 224, "DenseNet121": 224, "InceptionV3": 299, "EfficientNetB0": 224}


def freeze(name: str, size: int):
    """A frozen Keras application (weights=None, logits, batch-norm statistics randomised)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), classifier_activation=None)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, layer.moving_variance.shape))
    spec = tf.TensorSpec((1, size, size, 3), tf.float32)
    frozen = convert_variables_to_constants_v2(tf.function(lambda x: model(x, training=False)).get_concrete_function(spec))
    return frozen.graph.as_graph_def(), frozen.inputs[0].op.name, frozen.outputs[0].op.name


@pytest.fixture(scope="session")
def zoo(tmp_path_factory):
    """name -> (raw path, prepared path, input name, output name, size), built once per session."""
    folder = tmp_path_factory.mktemp("opencv_zoo")
    built = {}
    for name, size in MODELS.items():
        graph_def, inp, out = freeze(name, size)
        prepared = graphrewrite.transform_graph(graph_def, [inp], [out], target_script("opencv"))
        raw_path, prepared_path = folder / f"{name}.pb", folder / f"{name}.opencv.pb"
        raw_path.write_bytes(graph_def.SerializeToString())
        prepared_path.write_bytes(prepared.SerializeToString())
        built[name] = (raw_path, prepared_path, inp, out, size)
    return built


def opencv_run(path, x):
    """OpenCV's output for NHWC input *x*, or None when the graph does not load."""
    try:
        net = cv2.dnn.readNetFromTensorflow(str(path))
        net.setInput(x.transpose(0, 3, 1, 2))
        return net.forward()
    except cv2.error:
        return None


def load_graph_def(path):
    from graphrewrite import io

    return io.load_graph(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_prepared_graph_loads_in_opencv_and_matches(zoo, name):
    raw, prepared, inp, out, size = zoo[name]
    x = np.random.default_rng(1).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    (want,) = run_graph(load_graph_def(raw), {inp: x}, [out])
    got = opencv_run(prepared, x)
    assert got is not None, f"{name} prepared for opencv does not load"
    error = float(np.abs(got.reshape(want.shape) - want).max())
    print(f"{name} opencv: max abs error {error:.2e}, output scale {float(np.abs(want).max()):.2e}")
    assert error <= 1e-3
    assert checks.check(load_graph_def(prepared), "opencv").loads


def tflite_run(path, inp, out, x):
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(str(path), [inp], [out])
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def openvino_run(path, inp, out, x):
    ov = pytest.importorskip("openvino")
    # f32 inference: the CPU plugin may otherwise pick bf16 or f16 on this hardware
    compiled = ov.Core().compile_model(ov.convert_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled({compiled.inputs[0]: x})[compiled.outputs[0]]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["tflite", "openvino"])
@pytest.mark.parametrize("name", list(MODELS))
def test_prepared_graph_loads_in_tflite_and_openvino(zoo, name, target, tmp_path):
    raw, _, inp, out, size = zoo[name]
    graph_def = load_graph_def(raw)
    prepared = graphrewrite.transform_graph(graph_def, [inp], [out], target_script(target))
    path = tmp_path / f"{name}.{target}.pb"
    path.write_bytes(prepared.SerializeToString())
    assert checks.check(prepared, target).loads
    x = np.random.default_rng(1).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    (want,) = run_graph(graph_def, {inp: x}, [out])
    got = (tflite_run if target == "tflite" else openvino_run)(path, inp, out, x)
    assert np.abs(got.reshape(want.shape) - want).max() <= 1e-3 * max(1.0, float(np.abs(want).max()))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_check_agrees_with_opencv_on_raw_graphs(zoo, name):
    """Raw MobileNetV2 loads (OpenCV fuses Keras' batch-norm form, Rsqrt and all: the target's
    [[fused]] patterns); the other four do not (their batch-norm parameters pass through a
    Reshape, which OpenCV cannot take from a constant)."""
    raw, _, _, _, size = zoo[name]
    loads = opencv_run(raw, np.zeros((1, size, size, 3), np.float32)) is not None
    assert checks.check(load_graph_def(raw), "opencv").loads == loads


@pytest.mark.slow
def test_cli_transform_target_opencv(zoo, tmp_path):
    raw, _, inp, out, _ = zoo["EfficientNetB0"]
    result = tmp_path / "effnet.pb"
    cmd = [sys.executable, "-m", "graphrewrite", "transform", f"--in_graph={raw}", f"--out_graph={result}",
           f"--inputs={inp}", f"--outputs={out}", "--target=opencv", "--quiet"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    check = subprocess.run([sys.executable, "-m", "graphrewrite", "check", "--target=opencv", str(result)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_every_check_target_has_a_script():
    assert set(checks.target_names()) <= set(TARGET_SCRIPTS)


def test_transform_needs_exactly_one_of_transforms_and_target(tmp_path):
    graph = tmp_path / "g.pbtxt"
    graph.write_text('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }')
    cmd = [sys.executable, "-m", "graphrewrite", "transform", f"--in_graph={graph}", f"--out_graph={tmp_path / 'o.pb'}"]
    for extra in ([], ["--target=opencv", "--transforms=sort_by_execution_order"]):
        done = subprocess.run([*cmd, *extra], capture_output=True, text=True)
        assert done.returncode == 2 and "exactly one of --transforms and --target" in done.stderr
    unknown = subprocess.run([*cmd, "--target=opencvv"], capture_output=True, text=True)
    assert unknown.returncode == 1 and "unknown target 'opencvv'" in unknown.stderr and "Traceback" not in unknown.stderr
