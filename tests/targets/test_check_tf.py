"""``check --target=tf --tf_version=V`` agrees with the running TensorFlow's own import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from graphrewrite.targets import checks, checks_tf  # noqa: E402

RUNNING = ".".join(tf.__version__.split(".")[:2])

# CheckPinned is registered from TensorFlow 2.17 on (tf_ops/2.16.json lacks it, 2.21.json has it).
NEW_OP = """
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "c" op: "CheckPinned" input: "x" attr { key: "T" value { type: DT_FLOAT } } }
"""
PLAIN = """
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "r" op: "Relu" input: "x" attr { key: "T" value { type: DT_FLOAT } } }
"""


def parse(text):
    from google.protobuf import text_format

    return text_format.Parse(text, tf.compat.v1.GraphDef())


def imports(graph_def) -> bool:
    try:
        with tf.Graph().as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
    except (ValueError, tf.errors.NotFoundError):
        return False
    return True


@pytest.mark.skipif(RUNNING not in checks_tf.versions(), reason=f"no op registry shipped for TF {RUNNING}")
@pytest.mark.parametrize("text", [NEW_OP, PLAIN], ids=["new_op", "plain"])
def test_check_agrees_with_running_tensorflow(text):
    graph_def = parse(text)
    assert checks.check(graph_def, checks.load_target("tf", version=RUNNING)).loads == imports(graph_def)


def test_op_newer_than_the_version_is_a_finding():
    report = checks.check(parse(NEW_OP), checks.load_target("tf", version="2.16"))
    assert [(f.node, f.op) for f in report.findings] == [("c", "CheckPinned")]
    assert checks.check(parse(NEW_OP), checks.load_target("tf", version="2.21")).loads


def test_registries_hold_the_common_ops():
    for version in checks_tf.versions():
        assert {"Conv2D", "FusedBatchNormV3", "Placeholder"} <= set(checks_tf.registry(version))
    assert len(checks_tf.versions()) >= 2


def test_cli_unknown_version_and_version_on_other_target(tmp_path):
    path = tmp_path / "g.pbtxt"
    path.write_text(PLAIN)
    cmd = [sys.executable, "-m", "graphrewrite", "check", str(path)]
    bad = subprocess.run([*cmd, "--target=tf", "--tf_version=1.15"], capture_output=True, text=True)
    assert bad.returncode == 1 and "no op registry for TensorFlow '1.15'" in bad.stderr
    other = subprocess.run([*cmd, "--target=opencv", "--tf_version=2.16"], capture_output=True, text=True)
    assert other.returncode == 2 and "--tf_version is for --target=tf" in other.stderr
    assert np.all([b"Traceback" not in r.stderr.encode() for r in (bad, other)])
