"""graphrewrite.inputs: shapes text, npz files, random feeds by dtype and shape."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import inputs
from graphrewrite.engine.errors import GraphFileError, NameNotFoundError, UsageError


def test_parse_input_shapes_reads_names_ports_and_scalars():
    assert inputs.parse_input_shapes("x:1,224,224,3;y:1; s: ;t:0:2,2") == {
        "x": (1, 224, 224, 3), "y": (1,), "s": (), "t:0": (2, 2),
    }
    assert inputs.parse_input_shapes("") == {}
    assert inputs.parse_input_shapes(None) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x", "expected NAME:DIMS"),
        ("x:1,a", "got '1,a' \\(in 'x:1,a'\\)"),
        ("x:-1,2", "'x:-1,2' has an unknown dimension"),
        ("x:-2", "dimension -2 in '-2' is negative"),
    ],
)
def test_parse_input_shapes_errors_name_the_culprit(text, message):
    with pytest.raises(UsageError, match=message):
        inputs.parse_input_shapes(text)


def _graph_def():
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        n = tf.compat.v1.placeholder(tf.int32, [2], name="n")
        b = tf.compat.v1.placeholder(tf.bool, None, name="b")
        tf.identity(x, name="y")
        tf.identity(n, name="m")
        tf.identity(b, name="c")
    return graph.as_graph_def()


def test_random_feeds_follow_dtype_and_shape_and_are_seeded():
    gd = _graph_def()
    feeds = inputs.random_feeds(gd, ["x", "n:0", "b"], "x:4,3;b:2", seed=3)
    assert feeds["x"].shape == (4, 3) and feeds["x"].dtype == np.float32
    assert feeds["n:0"].shape == (2,) and feeds["n:0"].dtype == np.int32
    assert feeds["n:0"].min() >= 0 and feeds["n:0"].max() < 10
    assert feeds["b"].dtype == np.bool_ and feeds["b"].shape == (2,)
    again = inputs.random_feeds(gd, ["x", "n:0", "b"], "x:4,3;b:2", seed=3)
    np.testing.assert_array_equal(feeds["x"], again["x"])
    other = inputs.random_feeds(gd, ["x"], None, seed=4)
    assert other["x"].shape == (1, 3)  # unknown dims default to 1


def test_random_feeds_for_a_non_placeholder_asks_tensorflow():
    from graphrewrite.runner import GraphRunner

    gd = _graph_def()
    with GraphRunner(gd) as runner:
        feeds = inputs.random_feeds(runner, ["y"], {"y": (2, 3)})
    assert feeds["y"].shape == (2, 3) and feeds["y"].dtype == np.float32
    assert inputs.random_feeds(gd, ["m"])["m"].dtype == np.int32


def test_random_feeds_errors():
    gd = _graph_def()
    with pytest.raises(UsageError, match=r"gives x shape \[4, 2\], but the graph says \[\?,3\]"):
        inputs.random_feeds(gd, ["x"], "x:4,2")
    with pytest.raises(UsageError, match="'b' has unknown rank; give its shape with --input_shapes=b:DIMS"):
        inputs.random_feeds(gd, ["b"])
    with pytest.raises(NameNotFoundError, match="did you mean 'x'"):
        inputs.random_feeds(gd, ["xx"])


def test_npz_round_trip_and_errors(tmp_path):
    path = tmp_path / "in.npz"
    inputs.save_npz(path, {"x:0": np.ones((2, 3), np.float32), "n": np.arange(2)})
    loaded = inputs.load_npz(path)
    assert set(loaded) == {"x:0", "n"}
    assert inputs.check_feeds(loaded, ["x", "n:0"])["x"].shape == (2, 3)
    with pytest.raises(UsageError, match="no value for z"):
        inputs.check_feeds(loaded, ["z"])
    with pytest.raises(GraphFileError, match="cannot read"):
        inputs.load_npz(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_text("hello")
    with pytest.raises(GraphFileError, match=r"not an \.npz file"):
        inputs.load_npz(tmp_path / "bad.npz")
