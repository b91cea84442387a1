"""Keras 3 models frozen with one command each, from every way they are saved, then used.

A small CNN with batch norm (moving statistics randomised so inference mode matters) and an
LSTM, saved with ``model.export``, ``tf.saved_model.save``, ``.keras`` and ``.h5``: each
freezes with one ``graphrewrite freeze`` command to a graph with no variable ops that computes
what the model computes, and the transform command it prints runs unchanged. MobileNetV2's
frozen graph summarizes to exactly one input and its real output, and round-trips through
``export`` and ``tf.saved_model.load``.
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

from graphrewrite.cli import main
from graphrewrite.io import load_graph
from graphrewrite.runner import run_graph
from graphrewrite.stdlib_rules.op_kinds import VARIABLE_OPS

pytestmark = pytest.mark.slow


def cnn():
    import keras

    keras.utils.set_random_seed(1)
    x = keras.Input((12, 12, 3), name="image")
    y = keras.layers.Conv2D(8, 3, name="conv")(x)
    y = keras.layers.BatchNormalization(name="bn")(y)
    y = keras.layers.ReLU()(y)
    y = keras.layers.GlobalAveragePooling2D()(y)
    model = keras.Model(x, keras.layers.Dense(3, activation="softmax", name="probs")(y))
    gamma, beta, mean, var = model.get_layer("bn").get_weights()
    rng = np.random.default_rng(2)
    model.get_layer("bn").set_weights([gamma, beta, rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2, var.shape)])
    return model


def lstm():
    import keras

    keras.utils.set_random_seed(3)
    x = keras.Input((7, 4), name="sequence")
    return keras.Model(x, keras.layers.Dense(2, name="head")(keras.layers.LSTM(5)(x)))


MODELS = {"cnn": cnn, "lstm": lstm}
SAVES = ("export", "tf_saved_model", "keras", "h5")


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("keras")
    out = {}
    for name, build in MODELS.items():
        model = build()
        x = np.random.default_rng(4).normal(size=(2, *model.input.shape[1:])).astype(np.float32)
        expected = model(x, training=False).numpy()
        model.export(str(folder / f"{name}_export"), verbose=False)
        tf.saved_model.save(model, str(folder / f"{name}_tf_saved_model"))
        model.save(folder / f"{name}.keras")
        model.save(folder / f"{name}.h5")
        out[name] = (x, expected)
    return folder, out


def source_flag(folder, name, save):
    if save in ("keras", "h5"):
        return f"--input_keras_model={folder / f'{name}.{save}'}"
    return f"--input_saved_model_dir={folder / f'{name}_{save}'}"


@pytest.mark.parametrize("save", SAVES)
@pytest.mark.parametrize("name", list(MODELS))
def test_one_command_freezes_and_the_printed_command_runs(saved_models, capsys, name, save):
    folder, data = saved_models
    x, expected = data[name]
    out_path = folder / f"{name}_{save}.pb"
    assert main(["freeze", source_flag(folder, name, save), f"--output_graph={out_path}"]) == 0
    printed = capsys.readouterr().out
    graph_def = load_graph(out_path)
    assert not {n.op for n in graph_def.node} & VARIABLE_OPS
    assert not [n.name for n in graph_def.node if n.name.startswith("unused_control_flow_input")]
    inputs = [n.name for n in graph_def.node if n.op == "Placeholder"]
    command = next(line.strip() for line in printed.splitlines() if line.strip().startswith("graphrewrite transform"))
    args = dict(a.split("=", 1) for a in shlex.split(command)[2:] if "=" in a)
    assert args["--inputs"].split(",") == inputs and len(inputs) == 1
    got = run_graph(graph_def, {inputs[0]: x}, args["--outputs"].split(","))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert main([*shlex.split(command)[1:], "--quiet"]) == 0  # --verify included: same numbers after
    optimized = load_graph(args["--out_graph"])
    np.testing.assert_allclose(run_graph(optimized, {inputs[0]: x}, args["--outputs"].split(","))[0], expected,
                               rtol=1e-4, atol=1e-5)  # fmt: skip


def test_lstm_lowered_control_flow(saved_models, capsys):
    folder, data = saved_models
    x, expected = data["lstm"]
    out_path = folder / "lstm_lowered.pb"
    assert main(["freeze", source_flag(folder, "lstm", "export"), "--control_flow=lower", f"--output_graph={out_path}"]) == 0
    capsys.readouterr()
    graph_def = load_graph(out_path)
    ops = {n.op for n in graph_def.node}
    assert "Merge" in ops and "While" not in ops
    assert [n.name for n in graph_def.node if n.op == "Placeholder"] == ["sequence"]
    got = run_graph(graph_def, {"sequence": x}, ["Identity"])[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_mobilenet_v2_summary_and_export_round_trip(tmp_path, capsys):
    import keras
    import tensorflow as tf

    from graphrewrite.freeze import freeze_keras_model

    model = keras.applications.MobileNetV2(weights=None)
    frozen = freeze_keras_model(model)
    path = tmp_path / "mobilenet_v2.pb"
    from graphrewrite.io import save_graph

    save_graph(frozen.graph_def, path)
    assert main(["summarize", f"--in_graph={path}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["inputs"]) == 1
    (only,) = report["inputs"]
    assert only["dtype"] == "float32" and only["shape"] in ([-1, 224, 224, 3], [1, 224, 224, 3])
    assert [o["name"] for o in report["outputs"]] == list(frozen.output_names)
    assert report["variables"] == []
    # Every weight is a constant now, plus a few small shape and axis constants.
    assert model.count_params() <= report["const_parameters"] < model.count_params() + 1000

    name = only["name"]
    assert main(["export", f"--in_graph={path}", f"--inputs={name}", f"--outputs={frozen.output_names[0]}",
                 f"--saved_model_dir={tmp_path / 'served'}", "--signature_keys", f"{frozen.output_names[0]}=probs"]) == 0  # fmt: skip
    x = np.random.default_rng(5).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    signature = tf.saved_model.load(str(tmp_path / "served" / "1")).signatures["serving_default"]
    got = signature(**{name: tf.constant(x)})["probs"].numpy()
    np.testing.assert_allclose(got, model(x, training=False).numpy(), rtol=1e-4, atol=1e-6)
