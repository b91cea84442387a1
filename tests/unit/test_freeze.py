"""freeze_saved_model, freeze_concrete_function, freeze_keras_model on small models.

What TensorFlow's converter lacks is checked here: functional control flow kept by default
(no ``unused_control_flow_input`` placeholders), calls it leaves behind (``_noinline``)
inlined, signature keys mapped to graph tensor names, and clear errors.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, UsageError
from graphrewrite.freeze import freeze_keras_model, freeze_saved_model
from graphrewrite.freezing.frozen import FrozenGraph
from graphrewrite.runner import run_graph
from graphrewrite.stdlib_rules.op_kinds import VARIABLE_OPS


def module_saved_model(folder):
    """A tf.Module SavedModel: a _noinline function, an If, a While, two signatures."""
    import tensorflow as tf

    class Model(tf.Module):
        def __init__(self):
            self.w = tf.Variable(np.arange(9, dtype=np.float32).reshape(3, 3) / 10)
            self.s = tf.Variable(2.0)

        @tf.function(experimental_attributes={"_noinline": True})
        def inner(self, x):
            return tf.matmul(x, self.w) * self.s, tf.reduce_sum(x)

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x"),
                                      tf.TensorSpec([], tf.bool, name="flag")])  # fmt: skip
        def serve(self, x, flag):
            a, b = self.inner(x)
            c = tf.cond(flag, lambda: a + 1.0, lambda: a * self.s)
            total = tf.while_loop(lambda i, t: i < 3, lambda i, t: (i + 1, t + self.s), [0, b])[1]
            return {"scores": c, "total": total}

    model = Model()
    tf.saved_model.save(model, str(folder), signatures={"serving_default": model.serve, "second": model.serve})

    def expected(x, flag):
        out = model.serve(tf.constant(x), tf.constant(flag))
        return {k: v.numpy() for k, v in out.items()}

    return expected


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("module_sm")
    return folder, module_saved_model(folder)


def run_frozen(frozen: FrozenGraph, feeds_by_key, outputs=None):
    feeds = {frozen.signature_inputs[k]: v for k, v in feeds_by_key.items()}
    keys = list(outputs or frozen.signature_outputs)
    values = run_graph(frozen.graph_def, feeds, [frozen.signature_outputs[k] for k in keys])
    return dict(zip(keys, values, strict=True))


@pytest.mark.parametrize("flag", [True, False])
def test_signature_is_frozen_with_calls_inlined_and_control_flow_kept(saved, flag):
    folder, expected = saved
    frozen = freeze_saved_model(folder)
    ops = Counter(n.op for n in frozen.graph_def.node)
    assert not set(ops) & VARIABLE_OPS
    assert not {"PartitionedCall", "StatefulPartitionedCall"} & set(ops)
    assert {"If", "While"} <= set(ops) or {"StatelessIf", "StatelessWhile"} & set(ops)
    assert not [n.name for n in frozen.graph_def.node if n.name.startswith("unused_control_flow_input")]
    assert set(frozen.signature_inputs) == {"x", "flag"}
    assert set(frozen.signature_outputs) == {"scores", "total"}
    assert set(frozen.signature_inputs.values()) == set(frozen.input_names)
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]], np.float32)
    got = run_frozen(frozen, {"x": x, "flag": np.array(flag)})
    for key, value in expected(x, flag).items():
        np.testing.assert_allclose(got[key], value, rtol=1e-6)


def test_lowered_control_flow_has_no_leftover_placeholders(saved):
    folder, expected = saved
    frozen = freeze_saved_model(folder, signature_name="second", control_flow="lower")
    ops = Counter(n.op for n in frozen.graph_def.node)
    assert "Switch" in ops and "Merge" in ops and not {"If", "While", "StatelessIf", "StatelessWhile"} & set(ops)
    assert ops["Placeholder"] == 2
    x = np.ones((1, 3), np.float32)
    got = run_frozen(frozen, {"x": x, "flag": np.array(False)})
    np.testing.assert_allclose(got["scores"], expected(x, False)["scores"], rtol=1e-6)


def test_describe_prints_names_dtypes_shapes_keys_and_a_command(saved):
    folder, _ = saved
    text = freeze_saved_model(folder).describe("frozen.pb")
    import re

    assert re.search(r"\n  x +float32 +\[\?,3\]  \(signature key 'x'\)", text)
    assert re.search(r"\n  flag +bool +\[\]  \(signature key 'flag'\)", text)
    assert "(signature key 'scores')" in text and "(signature key 'total')" in text
    assert "graphrewrite transform --in_graph=frozen.pb --out_graph=frozen_optimized.pb" in text
    assert "--inputs=" in text and "--outputs=" in text


def test_saved_model_errors(saved, tmp_path):
    folder, _ = saved
    with pytest.raises(NameNotFoundError, match=r"no signature 'serving_defualt' \(it has: second, serving_default\); did you mean 'serving_default'"):
        freeze_saved_model(folder, signature_name="serving_defualt")
    with pytest.raises(GraphFileError, match="does not exist"):
        freeze_saved_model(tmp_path / "missing")
    with pytest.raises(GraphFileError, match=r"has no saved_model\.pb"):
        freeze_saved_model(tmp_path)
    with pytest.raises(UsageError, match="control_flow must be 'keep' or 'lower', got 'unroll'"):
        freeze_saved_model(folder, control_flow="unroll")


def tiny_keras_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = {"a": keras.Input((3,), name="a"), "b": keras.Input((2,), name="b")}
    joined = keras.layers.Concatenate()([inputs["a"], inputs["b"]])
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(4)(joined))
    return keras.Model(inputs, {"probs": keras.layers.Dense(2, activation="softmax")(hidden)})


def test_keras_model_object_and_file(tmp_path):
    model = tiny_keras_model()
    model.save(tmp_path / "tiny.keras")
    feeds = {"a": np.ones((2, 3), np.float32), "b": np.full((2, 2), 0.5, np.float32)}
    expected = model(feeds, training=False)["probs"].numpy()
    for source in (model, str(tmp_path / "tiny.keras")):
        frozen = freeze_keras_model(source)
        assert frozen.input_names == ("a", "b")
        assert frozen.signature_inputs == {"a": "a", "b": "b"}
        assert list(frozen.signature_outputs) == ["probs"]
        assert not {n.op for n in frozen.graph_def.node} & VARIABLE_OPS
        got = run_graph(frozen.graph_def, feeds, [frozen.signature_outputs["probs"]])[0]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_keras_errors(tmp_path):
    import keras

    with pytest.raises(GraphFileError, match="does not exist"):
        freeze_keras_model(str(tmp_path / "missing.keras"))
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(GraphFileError, match="not a Keras model file"):
        freeze_keras_model(str(tmp_path / "model.txt"))
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    with pytest.raises(GraphFileError, match="cannot load Keras model"):
        freeze_keras_model(str(tmp_path / "broken.keras"))
    with pytest.raises(UsageError, match="has no defined inputs"):
        freeze_keras_model(keras.Sequential([keras.layers.Dense(2)]))


def test_tf1_saved_model_by_signature_and_by_node_names(tmp_path, capsys):
    import tensorflow as tf

    from graphrewrite.cli import main

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 2], name="x")
        w = v1.Variable(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32), name="w", use_resource=False)
        r = v1.get_variable("r", initializer=np.array([0.5, -0.5], np.float32), use_resource=True)
        out = tf.identity(tf.matmul(x, w) + r, name="out")
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(tmp_path / "sm"))
            signature = v1.saved_model.predict_signature_def({"inp": x}, {"res": out})
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()
    ones = np.ones((1, 2), np.float32)
    frozen = freeze_saved_model(tmp_path / "sm", tags="serve")
    assert frozen.signature_inputs == {"inp": "x"} and frozen.signature_outputs == {"res": "out"}
    np.testing.assert_allclose(run_frozen(frozen, {"inp": ones})["res"], [[4.5, 5.5]])
    # freeze_graph's old way: the SavedModel's MetaGraph and checkpoint, cut at node names.
    code = main(["freeze", f"--input_saved_model_dir={tmp_path / 'sm'}", "--output_node_names=out",
                 f"--output_graph={tmp_path / 'f.pb'}"])  # fmt: skip
    assert code == 0 and "out  float32  [?,2]" in capsys.readouterr().out
    from graphrewrite.io import load_graph

    np.testing.assert_allclose(run_graph(load_graph(tmp_path / "f.pb"), {"x": ones}, ["out"])[0], [[4.5, 5.5]])
    with pytest.raises(NameNotFoundError, match="no MetaGraph tagged 'train'"):
        from graphrewrite.freeze import saved_model_graph

        saved_model_graph(tmp_path / "sm", tags="train")


def test_cleanup_pieces():
    from graphrewrite.engine.attrvalues import DType
    from graphrewrite.engine.graph import Graph, Node
    from graphrewrite.freeze import FreezeError
    from graphrewrite.freezing import cleanup

    g = Graph.from_nodes([
        Node.make("a", "NoOp", (), {"_class": ["loc:@gone", "loc:@b"]}),
        Node.make("b", "NoOp", (), {"_class": ["loc:@gone"]}),
        Node.make("unused_control_flow_input_1", "Placeholder", (), {"dtype": DType(1)}),
        Node.make("unused_control_flow_input_2", "Placeholder", (), {"dtype": DType(1)}),
        Node.make("user", "Identity", ["unused_control_flow_input_2"], {"T": DType(1)}),
        Node.make("v", "VarHandleOp", (), {"dtype": DType(1)}),
    ])  # fmt: skip
    fixed = cleanup.drop_dangling_colocation(g)
    assert fixed.node("a").get("_class") == ["loc:@b"] and "_class" not in fixed.node("b").attr
    kept = cleanup.drop_lowering_placeholders(g)
    assert "unused_control_flow_input_1" not in kept and "unused_control_flow_input_2" in kept
    with pytest.raises(FreezeError, match=r"variables are left after freezing: 'v' \(VarHandleOp\)"):
        cleanup.check_no_variables(g)
