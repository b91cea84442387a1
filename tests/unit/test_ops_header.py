"""``ops-header`` prints TensorFlow's selective-registration header byte for byte, with
TensorFlow's own tool (in the wheel) as the oracle."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from graphrewrite import io
from graphrewrite.cli import main

PROGRAM = "print_selective_registration_header"


def _oracle(paths, fmt="rawproto", default_ops="NoOp:NoOp,_Recv:RecvOp,_Send:SendOp", monkeypatch=None):
    lib = pytest.importorskip("tensorflow.python.tools.selective_registration_header_lib")
    monkeypatch.setattr(sys, "argv", [PROGRAM])
    return lib.get_header([str(p) for p in paths], fmt, default_ops) + "\n"  # the tool print()s it


def _tf():
    from graphrewrite import _tf

    return _tf.tf()


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """A small CNN frozen (the zoo's ops), a TF1 while_loop + cond graph, and a TF2 graph whose
    loop lives in library functions."""
    tf = _tf()
    v1 = tf.compat.v1
    folder = tmp_path_factory.mktemp("ops")
    cnn = tf.Graph()
    with cnn.as_default():
        x = v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        w = tf.constant(np.random.default_rng(0).normal(size=(3, 3, 3, 4)).astype(np.float32))
        y = tf.nn.relu6(tf.nn.bias_add(tf.nn.conv2d(x, w, 1, "SAME"), tf.zeros([4])))
        tf.nn.softmax(tf.reduce_mean(y, axis=[1, 2]), name="probs")
    io.save_graph(cnn.as_graph_def(), folder / "cnn.pb")
    v1.disable_control_flow_v2()
    try:
        loop = tf.Graph()
        with loop.as_default():
            n = v1.placeholder(tf.int32, [], name="n")
            total = tf.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s + tf.cast(i, tf.float32)), [0, 0.0])[1]
            tf.identity(tf.cond(total > 3.0, lambda: total * 2.0, lambda: -total), name="out")
        io.save_graph(loop.as_graph_def(), folder / "tf1_loop.pbtxt", as_text=True)
    finally:
        v1.enable_control_flow_v2()

    @tf.function
    def f(k):
        return tf.while_loop(lambda i, s: i < k, lambda i, s: (i + 1, s * 1.5), [0, tf.constant(1.0)])[1]

    io.save_graph(f.get_concrete_function(tf.TensorSpec([], tf.int32)).graph.as_graph_def(), folder / "tf2_loop.pb")
    return folder


@pytest.mark.parametrize("names", [["cnn.pb"], ["tf2_loop.pb"], ["cnn.pb", "tf2_loop.pb"]])
def test_equal_to_tensorflows_tool(graphs, names, capsys, monkeypatch):
    paths = [graphs / n for n in names]
    assert main(["ops-header", "--graphs=" + ",".join(map(str, paths))]) == 0
    assert capsys.readouterr().out == _oracle(paths, monkeypatch=monkeypatch)


def test_text_graphs_with_tf1_control_flow(graphs, capsys, monkeypatch):
    path = graphs / "tf1_loop.pbtxt"
    assert main(["ops-header", f"--graphs={path}", "--proto_fileformat=textproto"]) == 0
    out = capsys.readouterr().out
    assert out == _oracle([path], "textproto", monkeypatch=monkeypatch)
    assert '"Merge"' in out and '"Switch"' in out and '"NextIteration"' in out


@pytest.mark.parametrize("default_ops", ["all", "NoOp:NoOp,Identity:IdentityOp"])
def test_default_ops(graphs, default_ops, capsys, monkeypatch):
    path = graphs / "cnn.pb"
    assert main(["ops-header", f"--graphs={path}", f"--default_ops={default_ops}"]) == 0
    assert capsys.readouterr().out == _oracle([path], default_ops=default_ops, monkeypatch=monkeypatch)


def test_a_missing_graph_is_a_one_line_error(tmp_path, capsys):
    assert main(["ops-header", f"--graphs={tmp_path / 'nope.pb'}"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
