"""Lookup tables survive freezing: a text classifier's vocabulary becomes data inside the graph,
and every command that runs the graph initialises it (issue: "You must feed a value for
placeholder tensor 'unknown' with dtype resource")."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import io
from graphrewrite.cli import main
from graphrewrite.runner import run_graph

VOCAB = ["the", "cat", "sat", "on", "mat", "dog"]
TOKENS = np.array([["the", "cat", "sat"], ["dog", "on", "xyz"], ["mat", "mat", "the"]])


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    """A Keras text classifier (StringLookup -> Embedding -> pooling -> Dense), exported."""
    from graphrewrite import _tf

    tf = _tf.tf()
    import keras

    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    ids = keras.layers.StringLookup(vocabulary=VOCAB)(tokens)
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(len(VOCAB) + 1, 8)(ids))
    model = keras.Model(tokens, keras.layers.Dense(3, activation="softmax")(pooled))
    folder = tmp_path_factory.mktemp("text") / "exported"
    model.export(str(folder), verbose=False)
    return folder, model.predict(tf.constant(TOKENS), verbose=0)


def _freeze(folder, tmp_path):
    out = tmp_path / "frozen.pb"
    assert main(["freeze", f"--input_saved_model_dir={folder}", f"--output_graph={out}"]) == 0
    return out


def test_the_vocabulary_is_frozen_into_the_graph(text_model, tmp_path):
    folder, expected = text_model
    graph_def = io.load_graph(_freeze(folder, tmp_path))
    ops = {n.name: n.op for n in graph_def.node}
    assert "resource" not in {str(n.attr["dtype"]) for n in graph_def.node if n.op == "Placeholder"}
    assert ops["init_all_tables"] == "NoOp" and "HashTableV2" in ops.values()
    (got,) = run_graph(graph_def, {"tokens": TOKENS}, ["Identity"])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_run_verify_transform_and_export_initialise_the_table(text_model, tmp_path, capsys):
    from graphrewrite import _tf

    folder, expected = text_model
    frozen = _freeze(folder, tmp_path)
    np.savez(tmp_path / "x.npz", tokens=TOKENS)
    optimized = tmp_path / "opt.pb"
    script = "strip_unused_nodes remove_nodes(op=Identity) fold_constants(ignore_errors=true) merge_duplicate_nodes sort_by_execution_order"
    assert main(["transform", f"--in_graph={frozen}", f"--out_graph={optimized}", "--inputs=tokens",
                 "--outputs=Identity", f"--transforms={script}", "--quiet"]) == 0  # fmt: skip
    assert main(["verify", str(frozen), str(optimized), "--inputs=tokens", "--outputs=Identity",
                 f"--input_file={tmp_path / 'x.npz'}"]) == 0  # fmt: skip
    assert main(["run", f"--in_graph={optimized}", f"--input_file={tmp_path / 'x.npz'}",
                 f"--output_file={tmp_path / 'y.npz'}"]) == 0  # fmt: skip
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["Identity"], expected, rtol=1e-6)
    served = tmp_path / "serving"
    assert main(["export", f"--in_graph={optimized}", "--inputs=tokens", "--outputs=Identity",
                 f"--saved_model_dir={served}"]) == 0  # fmt: skip
    tf = _tf.tf()
    loaded = tf.saved_model.load(str(served / "1"))  # export writes TF Serving version folders
    got = next(iter(loaded.signatures["serving_default"](tokens=tf.constant(TOKENS)).values())).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_a_tf1_static_hash_table_freezes_and_runs(tmp_path):
    from graphrewrite import _tf

    tf = _tf.tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        words = v1.placeholder(tf.string, [None], name="words")
        table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(VOCAB, list(range(10, 16)), tf.string, tf.int64), -1)
        offset = v1.get_variable("offset", initializer=tf.constant(100, tf.int64))
        tf.add(table.lookup(words), offset, name="ids")
        init = [v1.global_variables_initializer(), v1.tables_initializer()]
        with v1.Session() as session:
            session.run(init)
            prefix = v1.train.Saver().save(session, str(tmp_path / "ckpt"))
    graph_file = tmp_path / "g.pb"
    io.save_graph(graph.as_graph_def(), graph_file)
    out = tmp_path / "frozen.pb"
    assert main(["freeze", f"--input_graph={graph_file}", f"--input_checkpoint={prefix}", "--output_node_names=ids",
                 f"--output_graph={out}"]) == 0  # fmt: skip
    (got,) = run_graph(io.load_graph(out), {"words": np.array(["cat", "xyz", "dog"])}, ["ids"])
    assert got.tolist() == [111, 99, 115]
