"""export_saved_model: a frozen graph as a SavedModel that tf.saved_model.load and TF Serving read."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import _tf, export
from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, UsageError
from graphrewrite.runner import run_graph


def frozen_graph_def():
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        scale = tf.compat.v1.placeholder(tf.float32, [], name="model/scale")
        values, indices = tf.math.top_k(x * scale + 1.0, k=2, name="top")
        tf.identity(values, name="best")
        del indices
    return graph.as_graph_def()


FEEDS = {"x": np.array([[1.0, 5.0, 3.0], [-1.0, 0.0, 2.0]], np.float32), "model/scale": np.array(2.0, np.float32)}


def call(signature, **arrays):
    """Call an exported signature with tensors (TensorFlow 2.16's signatures refuse numpy arrays)."""
    tf = _tf.tf()
    return signature(**{k: tf.constant(v) for k, v in arrays.items()})


def load_signature(folder):
    import tensorflow as tf

    return tf.saved_model.load(str(folder)).signatures["serving_default"]


def test_exported_signature_returns_the_graphs_outputs(tmp_path):
    graph_def = frozen_graph_def()
    target = export.export_saved_model(graph_def, ["x", "model/scale:0"], ["best", "top:1"], tmp_path / "m")
    assert target == tmp_path / "m" / "1"
    assert (target / "saved_model.pb").exists() and (target / "variables").is_dir()
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["1"]  # no staging folder left
    signature = load_signature(target)
    assert set(signature.structured_input_signature[1]) == {"x", "model_scale"}
    got = call(signature, x=FEEDS["x"], model_scale=FEEDS["model/scale"])
    expected = run_graph(graph_def, FEEDS, ["best", "top:1"])
    np.testing.assert_array_equal(got["best"].numpy(), expected[0])
    np.testing.assert_array_equal(got["top_1"].numpy(), expected[1])


def test_keys_can_be_chosen_and_versions_are_kept_apart(tmp_path):
    graph_def = frozen_graph_def()
    keys = {"x:0": "images", "best": "scores", "model/scale": "scale"}
    export.export_saved_model(graph_def, ["x", "model/scale"], ["best"], tmp_path, version=7, signature_keys=keys)
    signature = load_signature(tmp_path / "7")
    got = call(signature, images=FEEDS["x"], scale=FEEDS["model/scale"])
    assert list(got) == ["scores"]


def test_refuses_to_overwrite_unless_asked(tmp_path):
    graph_def = frozen_graph_def()
    export.export_saved_model(graph_def, ["x", "model/scale"], ["best"], tmp_path)
    marker = tmp_path / "1" / "variables" / "keep.txt"
    marker.write_text("old")
    with pytest.raises(GraphFileError, match="already exists and is not empty; use --overwrite"):
        export.export_saved_model(graph_def, ["x", "model/scale"], ["best"], tmp_path)
    assert marker.exists()
    export.export_saved_model(graph_def, ["x", "model/scale"], ["top:1"], tmp_path, overwrite=True)
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]
    assert list(load_signature(tmp_path / "1").structured_outputs) == ["top_1"]


def test_errors(tmp_path):
    graph_def = frozen_graph_def()
    with pytest.raises(NameNotFoundError, match="did you mean 'best'"):
        export.export_saved_model(graph_def, ["x"], ["bset"], tmp_path)
    with pytest.raises(UsageError, match="give the graph's inputs and outputs"):
        export.export_saved_model(graph_def, [], ["best"], tmp_path)
    with pytest.raises(UsageError, match="--signature_keys names 'y'"):
        export.export_saved_model(graph_def, ["x"], ["best"], tmp_path, signature_keys={"y": "k"})
    assert not any(tmp_path.iterdir())


def test_signature_keys_are_identifiers_and_distinct():
    assert export.make_keys(["a/b:0", "a_b", "0x", "y:2"]) == ["a_b", "a_b_1", "t_0x", "y_2"]
    assert export.make_keys(["x"], {"x:0": "images"}) == ["images"]
