"""``summarize --ops [--target=T]``: (op, dtype) pairs with the kernel TensorFlow runs, and what a
target lacks; kernels agree with ``ops-header`` (TensorFlow's own lookup)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from graphrewrite.opsheader import ops_and_kernels  # noqa: E402
from graphrewrite.targets import checks, checks_ops  # noqa: E402

tf1 = tf.compat.v1


@pytest.fixture(scope="module")
def graph_path(tmp_path_factory):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf.float32, [1, 8, 8, 4], name="x")
        ids = tf1.placeholder(tf.int32, [2], name="ids")
        y = tf.nn.relu(tf.nn.conv2d(x, np.full([3, 3, 4, 4], 0.1, np.float32), 1, "SAME"))
        tf.identity_n([tf.math.rsqrt(y + 1.0)])
        tf.gather(tf.constant([1, 2, 3]), ids)
        tf.cast(ids, tf.float32) * 2.0
    path = tmp_path_factory.mktemp("ops") / "g.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    return path


def load(path):
    from graphrewrite import io

    return io.load_graph(path)


def test_pairs_and_kernels_agree_with_ops_header(graph_path):
    uses = checks_ops.op_uses(load(graph_path))
    pairs = {(use.op, use.dtype) for use in uses}
    assert {("Mul", "float"), ("Cast", "float,int32"), ("GatherV2", "int32"), ("Conv2D", "float")} <= pairs
    assert {(u.op, u.kernel) for u in uses if u.kernel} == set(ops_and_kernels([str(graph_path)], default_ops=""))
    assert sum(u.count for u in uses) == len(load(graph_path).node)


def test_target_marks_what_opencv_lacks(graph_path):
    graph_def = load(graph_path)
    uses = checks_ops.with_target(checks_ops.op_uses(graph_def), graph_def, checks.load_target("opencv"))
    assert {u.op for u in uses if u.missing} == {f.op for f in checks.check(graph_def, "opencv").findings}
    assert {u.op for u in uses if u.missing} >= {"IdentityN", "Rsqrt", "Cast", "GatherV2"}
    assert not any(u.missing for u in uses if u.op in {"Conv2D", "Relu", "Placeholder"})


def test_cli_text_and_json(graph_path):
    cmd = [sys.executable, "-m", "graphrewrite", "summarize", f"--in_graph={graph_path}", "--ops"]
    text = subprocess.run([*cmd, "--target=opencv"], capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    assert "opencv lacks 4 op(s): Cast, GatherV2, IdentityN, Rsqrt" in text.stdout
    report = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True).stdout)
    conv = next(row for row in report["ops"] if row["op"] == "Conv2D")
    assert conv["dtype"] == "float" and conv["kernel"] and conv["missing"] is None
    bare = subprocess.run([*cmd[:-1], "--target=opencv"], capture_output=True, text=True)
    assert bare.returncode == 2 and "--target needs --ops" in bare.stderr
