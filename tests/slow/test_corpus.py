"""A corpus of legacy and real-world-shaped models, each built here (no downloads), frozen, put
through the standard pipeline and the simplify_arithmetic recipe, and checked against the
original's outputs. Where GTT's C++ transform of the same model no longer runs, that is
recorded too (it breaks TF1 control flow)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from graphrewrite import io, transform_graph
from graphrewrite.cli import main
from graphrewrite.runner import run_graph

pytestmark = pytest.mark.slow

STANDARD = (
    "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true) "
    "fold_batch_norms fold_old_batch_norms merge_duplicate_nodes sort_by_execution_order"
)
MODERN = (
    "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true) "
    "fold_batch_norms fold_old_batch_norms simplify_arithmetic merge_duplicate_nodes sort_by_execution_order"
)


@attrs.frozen
class Model:
    """A frozen model of the corpus: its graph, feeds, outputs and the original's answers."""

    name: str
    graph_def: Any
    feeds: Mapping[str, np.ndarray]
    outputs: tuple[str, ...]
    expected: tuple[np.ndarray, ...]
    tf1_control_flow: bool = False


def _tf():
    from graphrewrite import _tf

    return _tf.tf()


def _freeze(args: list[str], tmp: Path) -> Any:
    out = tmp / "frozen.pb"
    assert main(["freeze", *args, f"--output_graph={out}"]) == 0
    return io.load_graph(out)


def _session_outputs(graph: Any, feeds: Mapping[str, Any], outputs: tuple[str, ...], init: list[Any]) -> Any:
    tf = _tf()
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(init)
        return session, tuple(session.run([f"{o}:0" for o in outputs], {f"{k}:0": v for k, v in feeds.items()}))


class _LstmCell:
    """An LSTM cell with output dropout, as TF1's LSTMCell + DropoutWrapper computed (those classes
    need Keras 2 in TF 2.16+; dynamic_rnn takes any object with this interface)."""

    def __init__(self, units: int, keep_prob: Any):
        self.units, self.keep_prob = units, keep_prob

    @property
    def state_size(self) -> Any:
        tf = _tf()
        return (tf.TensorShape([self.units]), tf.TensorShape([self.units]))

    @property
    def output_size(self) -> int:
        return self.units

    def zero_state(self, batch: Any, dtype: Any) -> Any:
        tf = _tf()
        return (tf.zeros([batch, self.units], dtype), tf.zeros([batch, self.units], dtype))

    def get_initial_state(self, inputs: Any = None, batch_size: Any = None, dtype: Any = None) -> Any:
        return self.zero_state(batch_size, dtype)

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> Any:
        tf = _tf()
        v1 = tf.compat.v1
        c, h = state
        with v1.variable_scope("lstm_cell", reuse=v1.AUTO_REUSE):
            kernel = v1.get_variable("kernel", [inputs.shape[-1] + self.units, 4 * self.units])
            bias = v1.get_variable("bias", [4 * self.units], initializer=v1.zeros_initializer())
        i, j, f, o = tf.split(tf.matmul(tf.concat([inputs, h], 1), kernel) + bias, 4, axis=1)
        c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
        h = tf.sigmoid(o) * tf.tanh(c)
        return tf.nn.dropout(h, rate=1.0 - self.keep_prob), (c, h)


def lstm(tmp: Path) -> Model:
    """TF1 dynamic_rnn LSTM with a keep_prob placeholder (fed 1.0 at inference), from a checkpoint."""
    tf = _tf()
    v1 = tf.compat.v1
    v1.disable_control_flow_v2()  # a TF1 graph: Switch/Merge/Enter/Exit loops
    try:
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(0)
            x = v1.placeholder(tf.float32, [None, 5, 3], name="x")
            keep = v1.placeholder_with_default(1.0, [], name="keep_prob")
            outputs, _ = v1.nn.dynamic_rnn(_LstmCell(4, keep), x, dtype=tf.float32)
            tf.identity(outputs[:, -1], name="last")
            init = v1.global_variables_initializer()
            saver = v1.train.Saver()
        feeds = {"x": np.random.default_rng(0).random((2, 5, 3)).astype(np.float32), "keep_prob": np.float32(1.0)}
        with v1.Session(graph=graph) as session:
            session.run(init)
            expected = tuple(session.run(["last:0"], {"x:0": feeds["x"], "keep_prob:0": 1.0}))
            prefix = saver.save(session, str(tmp / "lstm"))
    finally:
        v1.enable_control_flow_v2()
    frozen = _freeze([f"--input_meta_graph={prefix}.meta", f"--input_checkpoint={prefix}", "--output_node_names=last"], tmp)
    return Model("tf1_lstm", frozen, feeds, ("last",), expected, tf1_control_flow=True)


def detection(tmp: Path) -> Model:
    """Detection-style post-processing: a TensorArray while loop over classes, NonMaxSuppression."""
    tf = _tf()
    v1 = tf.compat.v1
    v1.disable_control_flow_v2()
    try:
        graph = tf.Graph()
        with graph.as_default():
            boxes = v1.placeholder(tf.float32, [None, 4], name="boxes")
            scores = v1.placeholder(tf.float32, [None, 3], name="scores")
            kept = tf.TensorArray(tf.float32, size=3)

            def body(c: Any, ta: Any) -> Any:
                selected = tf.image.non_max_suppression(boxes, scores[:, c], 4, iou_threshold=0.5)
                best = tf.reduce_sum(tf.gather(scores[:, c], selected))
                return c + 1, ta.write(c, best)

            _, kept = tf.while_loop(lambda c, ta: c < 3, body, [tf.constant(0), kept])
            tf.identity(kept.stack(), name="per_class")
        rng = np.random.default_rng(1)
        corners = rng.random((8, 2)).astype(np.float32)
        feeds = {"boxes": np.concatenate([corners, corners + 0.3], axis=1), "scores": rng.random((8, 3)).astype(np.float32)}
        graph_file = tmp / "detection.pb"
        io.save_graph(graph.as_graph_def(), graph_file)
        with v1.Session(graph=graph) as session:
            expected = tuple(session.run(["per_class:0"], {f"{k}:0": v for k, v in feeds.items()}))
    finally:
        v1.enable_control_flow_v2()
    frozen = io.load_graph(graph_file)  # no variables: the graph is frozen as it is
    return Model("detection_postprocess", frozen, feeds, ("per_class",), expected, tf1_control_flow=True)


def adam_training(tmp: Path) -> Model:
    """A TF1 training graph (Adam slots, a Saver), checkpoint + meta graph: freezes to inference."""
    tf = _tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        labels = v1.placeholder(tf.float32, [None, 2], name="labels")
        hidden = tf.nn.relu(tf.matmul(x, v1.get_variable("w1", [6, 8])) + v1.get_variable("b1", [8]))
        logits = tf.identity(tf.matmul(hidden, v1.get_variable("w2", [8, 2])), name="logits")
        loss = tf.reduce_mean(tf.square(logits - labels))
        train = v1.train.AdamOptimizer(0.01).minimize(loss)
        init = v1.global_variables_initializer()
        saver = v1.train.Saver()
    rng = np.random.default_rng(2)
    feeds = {"x": rng.random((4, 6)).astype(np.float32)}
    with v1.Session(graph=graph) as session:
        session.run(init)
        for _ in range(3):
            session.run(train, {"x:0": feeds["x"], "labels:0": rng.random((4, 2)).astype(np.float32)})
        expected = tuple(session.run(["logits:0"], {"x:0": feeds["x"]}))
        prefix = saver.save(session, str(tmp / "adam"))
    frozen = _freeze([f"--input_meta_graph={prefix}.meta", f"--input_checkpoint={prefix}", "--output_node_names=logits"], tmp)
    assert not any("Adam" in n.op or "Adam" in n.name for n in frozen.node)
    return Model("tf1_adam_training", frozen, feeds, ("logits",), expected)


def text_classifier(tmp: Path) -> Model:
    """Keras StringLookup vocabulary -> Embedding -> pooling -> Dense, exported and frozen."""
    tf = _tf()
    import keras

    tokens = keras.Input(shape=(None,), dtype="string", name="tokens")
    ids = keras.layers.StringLookup(vocabulary=["the", "cat", "sat", "on", "mat"])(tokens)
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(6, 4)(ids))
    model = keras.Model(tokens, keras.layers.Dense(2, activation="softmax")(pooled))
    model.export(str(tmp / "text"), verbose=False)
    feeds = {"tokens": np.array([["the", "cat", "sat"], ["dog", "on", "mat"]])}
    expected = (model.predict(tf.constant(feeds["tokens"]), verbose=0),)
    return Model("text_classifier", _freeze([f"--input_saved_model_dir={tmp / 'text'}"], tmp), feeds, ("Identity",), expected)


def keras2_after_fit(tmp: Path) -> Model:
    """A Keras 2 (tf-keras) model compiled, fitted and saved as a SavedModel with optimizer state."""
    tf_keras = pytest.importorskip("tf_keras", reason=".ci/run installs tf-keras matching TensorFlow")
    model = tf_keras.Sequential([tf_keras.layers.Dense(6, activation="relu", input_shape=(8,), name="hidden"),
                                 tf_keras.layers.BatchNormalization(), tf_keras.layers.Dense(2, name="out")])  # fmt: skip
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(3)
    model.fit(rng.random((32, 8)), rng.random((32, 2)), epochs=2, verbose=0)
    model.save(str(tmp / "keras2"), save_format="tf")
    from graphrewrite.freeze import freeze_saved_model

    frozen = freeze_saved_model(tmp / "keras2")
    (source,), (sink,) = frozen.input_names, frozen.output_names
    feeds = {source: rng.random((3, 8)).astype(np.float32)}
    return Model("keras2_after_fit", frozen.graph_def, feeds, (sink,), (model.predict(feeds[source], verbose=0),))


def mixed_dtypes(tmp: Path) -> Model:
    """Two inputs (float features, int ids) and two outputs (float scores, int64 class)."""
    tf = _tf()
    import keras

    features = keras.Input((4,), name="features")
    ids = keras.Input((3,), dtype="int32", name="ids")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(10, 2)(ids))
    scores = keras.layers.Dense(3, name="scores")(keras.layers.Concatenate()([features, embedded]))
    label = keras.layers.Lambda(lambda s: tf.argmax(s, axis=-1), name="label")(scores)
    model = keras.Model({"features": features, "ids": ids}, {"scores": scores, "label": label})
    model.export(str(tmp / "mixed"), verbose=False)
    rng = np.random.default_rng(4)
    feeds = {"features": rng.random((5, 4)).astype(np.float32), "ids": rng.integers(0, 10, (5, 3)).astype(np.int32)}
    predicted = model.predict({k: v for k, v in feeds.items()}, verbose=0)
    frozen = _freeze([f"--input_saved_model_dir={tmp / 'mixed'}"], tmp)
    outputs = tuple(n.name for n in frozen.node if n.name.startswith("Identity"))
    by_dtype = {np.dtype(np.int64): predicted["label"], np.dtype(np.float32): predicted["scores"]}
    got = run_graph(frozen, feeds, outputs)
    return Model("mixed_dtypes", frozen, feeds, outputs, tuple(by_dtype[g.dtype] for g in got))


BUILDERS: dict[str, Callable[[Path], Model]] = {
    "tf1_lstm": lstm, "detection_postprocess": detection, "tf1_adam_training": adam_training,
    "text_classifier": text_classifier, "keras2_after_fit": keras2_after_fit, "mixed_dtypes": mixed_dtypes,
}  # fmt: skip


TF1_CONTROL_FLOW = ("tf1_lstm", "detection_postprocess")


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def model(request: Any, tmp_path_factory: Any) -> Model:
    return BUILDERS[request.param](tmp_path_factory.mktemp(request.param))


def _check(model: Model, graph_def: Any, what: str) -> None:
    got = run_graph(graph_def, model.feeds, list(model.outputs))
    for name, want, have in zip(model.outputs, model.expected, got, strict=True):
        if np.asarray(want).dtype.kind in "fc":
            np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-5, err_msg=f"{model.name} {what}: {name}")
        else:
            np.testing.assert_array_equal(have, want, err_msg=f"{model.name} {what}: {name}")


def test_frozen_model_computes_what_the_original_computes(model: Model) -> None:
    _check(model, model.graph_def, "frozen")


@pytest.mark.parametrize("script", [STANDARD, MODERN], ids=["standard", "modern"])
def test_standard_pipelines_keep_the_numbers(model: Model, script: str) -> None:
    inputs = [k for k in model.feeds if k != "keep_prob"]
    out = transform_graph(model.graph_def, inputs, list(model.outputs), script)
    _check(model, out, script.split()[-3])


@pytest.mark.parametrize("model", sorted(n for n in BUILDERS if n in TF1_CONTROL_FLOW), indirect=True)
def test_gtt_on_tf1_control_flow(model: Model) -> None:
    """GTT's standard script over a TF1 loop: whether its output runs and matches is recorded
    (an xfail with the reason when it does not), so a change in either tool shows."""
    assert model.tf1_control_flow
    binding = pytest.importorskip("tensorflow.python.util._pywrap_transform_graph")
    inputs = ",".join(k for k in model.feeds if k != "keep_prob")
    try:
        data = binding.TransformGraphWithStringInputs(
            model.graph_def.SerializeToString(), inputs, ",".join(model.outputs), STANDARD
        )
    except Exception as exc:  # GTT refusing the graph outright is a result too
        pytest.xfail(f"GTT refuses {model.name}: {str(exc).splitlines()[0]}")
    from graphrewrite import _tf

    gtt_graph = _tf.pb().GraphDef()
    gtt_graph.ParseFromString(data)
    feeds = {k: v for k, v in model.feeds.items() if k != "keep_prob"}
    try:
        got = run_graph(gtt_graph, feeds, list(model.outputs))
    except Exception as exc:
        pytest.xfail(f"GTT's output of {model.name} no longer runs: {str(exc).splitlines()[0]}")
    for want, have in zip(model.expected, got, strict=True):
        if not np.allclose(have, want, rtol=1e-4, atol=1e-5):
            pytest.xfail(f"GTT's output of {model.name} runs but computes other numbers")
