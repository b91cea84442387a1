"""SavedModels the installed TensorFlow cannot revive are frozen from their MetaGraph and variables."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphrewrite import io
from graphrewrite.cli import main
from graphrewrite.runner import run_graph

X = np.random.default_rng(2).random((3, 8)).astype(np.float32)


def _damage_object_graph(folder) -> None:
    """Make the object graph unrevivable, as old Keras optimizer slots are for TF 2.21: a
    variable's node claims to be a user object whose type nobody registered."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = folder / "saved_model.pb"
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString(path.read_bytes())
    node = next(n for n in saved.meta_graphs[0].object_graph_def.nodes if n.WhichOneof("kind") == "variable")
    node.user_object.identifier = "optimizer_slot_of_a_keras_long_gone"
    path.write_bytes(saved.SerializeToString())


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    from graphrewrite import _tf

    _tf.tf()
    import keras

    x = keras.Input((8,), name="x")
    model = keras.Model(x, keras.layers.Dense(3)(keras.layers.Dense(5, activation="relu")(x)))
    folder = tmp_path_factory.mktemp("legacy") / "model"
    model.export(str(folder), verbose=False)
    _damage_object_graph(folder)
    return folder, model.predict(X, verbose=0)


def test_the_object_loader_really_fails_on_it(damaged):
    from graphrewrite import _tf

    with pytest.raises(Exception):  # noqa: B017  (whatever TensorFlow raises: that is the point)
        _tf.tf().saved_model.load(str(damaged[0]))


def test_a_damaged_object_graph_falls_back_to_the_meta_graph_and_says_so(damaged, tmp_path, capsys):
    folder, expected = damaged
    out = tmp_path / "frozen.pb"
    assert main(["freeze", f"--input_saved_model_dir={folder}", f"--output_graph={out}", "--json"]) == 0
    err = capsys.readouterr().err
    assert "cannot restore this SavedModel's object graph" in err and "TF1 loader" in err
    graph_def = io.load_graph(out)
    assert not {"VarHandleOp", "ReadVariableOp", "StatefulPartitionedCall"} & {n.op for n in graph_def.node}
    (got,) = run_graph(graph_def, {"serving_default_x": X}, ["StatefulPartitionedCall_1"])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_a_missing_signature_is_named_in_the_fallback_too(damaged, tmp_path, capsys):
    status = main(["freeze", f"--input_saved_model_dir={damaged[0]}", f"--output_graph={tmp_path / 'f.pb'}",
                   "--signature_name=serving_defualt"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1 and "no signature 'serving_defualt'" in err and "did you mean 'serving_default'" in err


def test_a_tf_keras_model_saved_after_fit_freezes(tmp_path, capsys):
    """Keras 2 (tf-keras), compiled and fitted, saved as a SavedModel with its optimizer state."""
    tf_keras = pytest.importorskip("tf_keras", reason=".ci/run installs tf-keras matching TensorFlow")
    model = tf_keras.Sequential([tf_keras.layers.Dense(6, activation="relu", input_shape=(8,)), tf_keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.random.default_rng(0).random((32, 8)), np.random.default_rng(1).random((32, 2)), epochs=2, verbose=0)
    folder = tmp_path / "keras2"
    model.save(str(folder), save_format="tf")
    out = tmp_path / "frozen.pb"
    assert main(["freeze", f"--input_saved_model_dir={folder}", f"--output_graph={out}", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    (source,), (sink,) = described["inputs"], described["outputs"]
    (got,) = run_graph(io.load_graph(out), {source["name"]: X}, [sink["name"]])
    np.testing.assert_allclose(got, model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
