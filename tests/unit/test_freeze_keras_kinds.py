"""Keras models of every kind freeze to graphs that compute what model.predict computes."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import io
from graphrewrite.cli import main
from graphrewrite.runner import run_graph


def _keras():
    from graphrewrite import _tf

    _tf.tf()
    import keras

    return keras


def _tutorial_model():
    """The freezing tutorial's model: Sequential with input_shape=, compiled, fitted one epoch."""
    keras = _keras()
    model = keras.Sequential([keras.layers.Dense(10, activation="relu", input_shape=(32,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.random((64, 32)), rng.integers(0, 2, (64, 1)), epochs=1, verbose=0)
    return model


X = np.random.default_rng(1).random((4, 32)).astype(np.float32)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_sequential_built_with_input_shape_freezes_from_its_file(tmp_path, suffix):
    model = _tutorial_model()
    path = tmp_path / f"m{suffix}"
    model.save(path)
    out = tmp_path / "frozen.pb"
    assert main(["freeze", f"--input_keras_model={path}", f"--output_graph={out}"]) == 0
    graph_def = io.load_graph(out)
    (got,) = run_graph(graph_def, {"input": X}, ["Identity"])
    np.testing.assert_allclose(got, model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_subclassed_model_freezes_with_an_input_shape():
    keras = _keras()

    class TwoLayers(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = keras.layers.Dense(6, activation="tanh")
            self.b = keras.layers.Dense(2)

        def call(self, x):
            return self.b(self.a(x))

    from graphrewrite.freeze import freeze_keras_model
    from graphrewrite.freezing.keras import signature_from_shapes

    model = TwoLayers()
    with pytest.raises(Exception, match="no defined inputs"):
        freeze_keras_model(model)
    frozen = freeze_keras_model(model, input_signature=signature_from_shapes("?,32"))
    (got,) = run_graph(frozen.graph_def, {frozen.input_names[0]: X}, list(frozen.output_names))
    np.testing.assert_allclose(got, model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_bad_input_shape_is_a_usage_error(tmp_path, capsys):
    model = _tutorial_model()
    model.save(tmp_path / "m.keras")
    status = main(["freeze", f"--input_keras_model={tmp_path / 'm.keras'}", f"--output_graph={tmp_path / 'f.pb'}",
                   "--input_shape=1,x"])  # fmt: skip
    assert status == 2 and "--input_shape" in capsys.readouterr().err and not (tmp_path / "f.pb").exists()
