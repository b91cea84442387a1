"""A small zoo of models on disk, built once per session: what a batch is run over."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def _frozen_dense(path: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        w = tf.constant(rng.normal(size=(4, 3)).astype(np.float32), name="w")
        y = tf.nn.relu(tf.identity(tf.matmul(x, w)) + 1.0)
        tf.identity(y * tf.constant(2.0), name="out")
    path.write_bytes(graph.as_graph_def().SerializeToString())


def _keras_file(path: Path) -> None:
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(2)])
    model.save(path)


def _saved_model(path: Path) -> None:
    import tensorflow as tf

    class Scale(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.arange(3, dtype=np.float32) + 1.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="features")])
        def __call__(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"scores": tf.nn.softmax(features * self.w)}

    module = Scale()
    tf.saved_model.save(module, str(path), signatures=module.__call__)


def _tf1_checkpoint(folder: Path) -> None:
    """A TF1 graph (model.meta) and its checkpoint (model.ckpt): y = tanh(x @ v), v a variable."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        v = tf.compat.v1.get_variable("v", initializer=np.array([[0.5], [-1.5]], np.float32))
        tf.tanh(tf.matmul(x, v), name="y")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(folder / "tf1" / "model.ckpt"), write_meta_graph=False)
        tf.compat.v1.train.export_meta_graph(str(folder / "tf1" / "model.meta"), saver_def=saver.as_saver_def())


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dense.pb (frozen), classifier.keras, exported/ (SavedModel), tf1/ (a TF1 checkpoint),
    broken.pb (not a graph),
    stalled.pb (a named pipe nobody writes: reading it blocks, like a stalled network mount)."""
    folder = tmp_path_factory.mktemp("zoo")
    _frozen_dense(folder / "dense.pb")
    _keras_file(folder / "classifier.keras")
    _saved_model(folder / "exported")
    _tf1_checkpoint(folder)
    (folder / "broken.pb").write_bytes(b"\x08\x96\x01 this is not a GraphDef \xff\xfe")
    os.mkfifo(folder / "stalled.pb")
    return folder
