"""``graphrewrite reduce``: a failing graph shrinks to a small subgraph that fails the same way.

Each kind of failure is reduced for real: a wrong user rule run by the transform pipeline and
checked in TensorFlow, a shell command (exiting non-zero, or hanging), and OpenCV refusing an
op. The reduced graph is written with its input values, and the printed commands reproduce
the failure. The slow test reduces a hand-written batch-norm fold's mismatch on MobileNetV2.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from graphrewrite import io  # noqa: E402
from graphrewrite.engine.graph import Graph  # noqa: E402
from graphrewrite.targets import compare, cut, failures, reduce  # noqa: E402
from tests.helpers.rule_graphs import control_flow_v1  # noqa: E402

RELU6_IS_RELU = """
rule relu6_is_relu "Relu6(x) -> Relu(x) (wrong: forgets the clip at 6)" {
    match   Relu6(x)
    rewrite Relu(x)
}
"""
WEIGHTS = np.random.default_rng(0).normal(0, 3, (8, 8)).astype(np.float32)


def small_graph(*, loop: bool = False):
    """x -> MatMul -> Relu -> +1 -> *3 -> Relu6 -> Sigmoid -> sums -> out (18 nodes); with
    *loop*, a TF1 while loop sits between the Relu and the Relu6."""
    graph = tf.Graph()
    with control_flow_v1(), graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 8], name="x")
        h = tf.nn.relu(tf.matmul(x, tf.constant(WEIGHTS, name="w"), name="mm"), name="r1")
        if loop:
            _, h = tf.compat.v1.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, a * 1.5), [tf.constant(0), h])
        h = tf.nn.relu6(tf.add(h, 1.0, name="a1") * 3.0, name="r6")
        h = tf.sigmoid(h * 0.1, name="s")
        tf.identity(tf.reduce_sum(h, axis=1) + tf.reduce_mean(h), name="out")
    return graph.as_graph_def()


@pytest.fixture
def rule_file(tmp_path):
    path = tmp_path / "broken.rules"
    path.write_text(RELU6_IS_RELU)
    return str(path)


def run_reduce(graph_def, check, **options):
    inputs, outputs = compare.resolve_io(graph_def, inputs=None, outputs="out")
    feeds = compare.make_feeds(graph_def, inputs)
    return reduce.reduce_graph(graph_def, check, inputs=inputs, outputs=outputs, feeds=feeds, **options)


def op_list(candidate):
    return sorted(node.op for node in candidate.graph_def.node)


def test_a_wrong_rule_reduces_to_the_node_it_breaks(rule_file):
    result = run_reduce(small_graph(), failures.TransformCheck.compile("relu6_is_relu", [rule_file]))
    assert op_list(result.candidate) == ["Placeholder", "Relu6"]
    assert result.failure.kind == "mismatch" and "r6:0" in result.failure.message
    assert result.original_nodes == 18 and not result.exhausted
    # The subgraph computes what the Relu6 computed inside the whole graph: its input is the
    # recorded value of the tensor it read, and it still fails the check by itself.
    (placeholder,) = result.candidate.inputs
    assert np.max(result.candidate.feeds[placeholder]) > 6
    check = failures.TransformCheck.compile("relu6_is_relu", [rule_file])
    assert check(result.candidate) == result.failure


def test_cuts_never_fall_inside_a_while_loop(rule_file):
    result = run_reduce(small_graph(loop=True), failures.TransformCheck.compile("relu6_is_relu", [rule_file]))
    assert op_list(result.candidate) == ["Placeholder", "Relu6"]
    graph = Graph.from_graphdef(small_graph(loop=True))
    inside = cut.unfetchable_nodes(graph)
    assert {"while/Enter", "while/Switch", "while/mul"} <= inside and "r6" not in inside
    # A cut that needs a tensor from inside the frame keeps the frame's producer instead.
    recording = cut.record_tensors(small_graph(loop=True), {"x:0": np.ones((1, 8), np.float32)}, ["r1:0"])
    assert cut.close(graph, ["while/Exit_1"], recording) >= {"while/Exit_1", "while/Switch_1", "while/Merge_1"}


def test_a_correct_transform_has_nothing_to_reduce():
    with pytest.raises(reduce.ReduceError, match="passes on the whole graph"):
        run_reduce(small_graph(), failures.TransformCheck.compile("fold_constants(ignore_errors=true) strip_unused_nodes"))


def test_match_must_hold_on_the_whole_graph(rule_file):
    check = failures.TransformCheck.compile("relu6_is_relu", [rule_file])
    with pytest.raises(reduce.ReduceError, match="not as --match"):
        run_reduce(small_graph(), check, match="load")
    assert op_list(run_reduce(small_graph(), check, match=r"max abs err").candidate) == ["Placeholder", "Relu6"]


def test_the_check_budget_stops_the_search_with_a_failing_graph(rule_file):
    check = failures.TransformCheck.compile("relu6_is_relu", [rule_file])
    result = run_reduce(small_graph(), check, max_checks=3)
    assert result.exhausted and result.checks == 3
    assert 2 < result.candidate.size < 18
    assert check(result.candidate).kind == "mismatch"


def test_a_command_that_exits_non_zero():
    # grep finds an op's name in the serialized graph: the command fails while Sigmoid is kept.
    check = failures.CommandCheck("! grep -q Sigmoid {graph}")
    result = run_reduce(small_graph(), check)
    assert op_list(result.candidate) == ["Placeholder", "Sigmoid"]
    assert result.failure == failures.Failure("exit", "exit status 1")


def test_a_command_that_hangs_is_killed_and_reduced():
    check = failures.CommandCheck("if grep -q Sigmoid {graph}; then sleep 30; fi", timeout=0.5)
    result = run_reduce(small_graph(), check)
    assert op_list(result.candidate) == ["Placeholder", "Sigmoid"]
    assert result.failure.kind == "timeout"


def test_match_reads_everything_a_command_printed():
    command = "echo 'outputs differ'; echo noise >&2; ! grep -q Sigmoid {graph}"
    result = run_reduce(small_graph(), failures.CommandCheck(command), match="outputs differ")
    assert op_list(result.candidate) == ["Placeholder", "Sigmoid"]
    assert result.failure.message == "exit status 1: noise"
    with pytest.raises(reduce.ReduceError, match="not as --match"):
        run_reduce(small_graph(), failures.CommandCheck(command), match="never printed")


def test_command_placeholders_are_filled_and_quoted(tmp_path):
    check = failures.CommandCheck("echo {graph} {inputs} {input_names} {output_names} > " + str(tmp_path / "said"))
    candidate = cut.cut(Graph.from_graphdef(small_graph()), ["s"], _recording(), ["out"])
    assert check(candidate) is None
    said = (tmp_path / "said").read_text().split()
    assert said[0].endswith("candidate.pb") and said[1].endswith("candidate.npz")
    assert said[2:] == ["mul_1", "s:0"]
    with pytest.raises(Exception, match=r"must name the graph as \{graph\}"):
        failures.CommandCheck("true")


def _recording():
    graph_def = small_graph()
    tensors = cut.tensors_read(Graph.from_graphdef(graph_def))
    return cut.record_tensors(graph_def, {"x": np.ones((1, 8), np.float32)}, tensors)


def test_reduction_is_deterministic(rule_file):
    check = failures.TransformCheck.compile("relu6_is_relu", [rule_file])
    first, second = (run_reduce(small_graph(), check) for _ in range(2))
    assert first.candidate.graph_def.SerializeToString(deterministic=True) == second.candidate.graph_def.SerializeToString(
        deterministic=True
    )
    assert first.checks == second.checks


def test_opencv_refusing_an_op_reduces_to_that_op():
    pytest.importorskip("cv2")
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 4], name="x")
        h = tf.nn.relu(tf.nn.conv2d(x, tf.constant(np.ones((1, 1, 4, 4), np.float32)), 1, "SAME"))
        h = tf.math.cumsum(h * 2.0, axis=3, name="cumsum")
        tf.identity(tf.nn.relu(h + 1.0), name="out")
    graph_def = graph.as_graph_def()
    result = run_reduce(graph_def, failures.TargetCheck("opencv"))
    assert result.failure.kind in ("load", "run error")
    assert "Cumsum" in op_list(result.candidate) and result.candidate.size <= 3


def test_the_command_line_writes_the_subgraph_and_a_report_that_reproduces(tmp_path, rule_file):
    graph = tmp_path / "model.pb"
    graph.write_bytes(small_graph().SerializeToString())
    out = tmp_path / "small.pb"
    argv = ["reduce", str(graph), "--outputs=out", "--transforms=relu6_is_relu", f"--rules={rule_file}", f"--out_graph={out}"]
    done = graphrewrite(*argv)
    assert done.returncode == 0, done.stderr
    assert "18 nodes -> 2" in done.stdout and "still fails" in done.stderr
    assert io.load_graph(out) is not None and (tmp_path / "small.npz").exists()
    # The report's commands show the failure again: verify exits 1 on the reduced graph.
    reproduce = done.stdout.split("reproduce:\n", 1)[1].strip().splitlines()
    transform, verify = (shlex.split(line) for line in reproduce)
    assert graphrewrite(*transform[1:]).returncode == 0
    verified = graphrewrite(*verify[1:])
    assert verified.returncode == 1 and "NO" in verified.stdout
    again = graphrewrite(*argv, "--json", "--quiet")
    assert json.loads(again.stdout)["nodes_after"] == 2 and again.stderr.strip() == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out_graph=o.pb"], "exactly one of --transforms, --target and --command"),
        (["--out_graph=o.pb", "--transforms=x", "--target=opencv"], "exactly one of"),
        (["--out_graph=o.pb", "--command=true"], "must name the graph as {graph}"),
        (["--out_graph=o.pb", "--target=opencv", "--rules=a.rules"], "--rules goes with --transforms"),
        (["--out_graph=o.pb", "--transforms=relu6_is_relux"], "relu6_is_relux"),
        (["--out_graph=m.pb", "--command=true {graph}"], "is the input file"),
        (["--out_graph=o.pb", "--command=true {graph}", "--match=("], "is not a regular expression"),
        (["--out_graph=o.pb", "--command=true {graph}", "--timeout=0"], "--timeout=0 must be positive"),
        (["--out_graph=o.pb", "--command=true {graph}", "--max_checks=0"], "must be at least 1"),
        (["--out_graph=o.pb", "--target=opencvv"], "opencvv"),
    ],
)
def test_bad_usage_is_one_line(tmp_path, argv, message):
    (tmp_path / "m.pb").write_bytes(small_graph().SerializeToString())
    done = graphrewrite("reduce", "m.pb", *argv, cwd=tmp_path)
    assert done.returncode != 0 and message in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "o.pb").exists()


def graphrewrite(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "graphrewrite", *argv], capture_output=True, text=True, cwd=cwd)


@pytest.mark.slow
def test_a_wrong_batch_norm_fold_on_mobilenet_reduces_to_a_handful_of_nodes(tmp_path):
    from benchmarks.inputs import freeze_keras

    rules = tmp_path / "bn.rules"
    rules.write_text(textwrap.dedent("""
        # A batch-norm fold written by hand, and wrong: it forgets gamma.
        rule my_fold_bn "x * (rsqrt(var + eps) * gamma) + (beta - mean * ...) -> x * rsqrt(var + eps) + ..." {
            match   AddV2(Mul(x, m: Mul(Rsqrt(AddV2(var: Const, eps: Const)), gamma: Const)), Sub(beta: Const, Mul(mean: Const, m)))
            let     scale = rsqrt(var + eps)
            rewrite AddV2(Mul(x, const(scale)), const(beta - mean * scale))
        }
    """))  # fmt: skip
    graph_def, inputs, outputs = freeze_keras("MobileNetV2")
    check = failures.TransformCheck.compile("remove_nodes(op=Identity) my_fold_bn", [str(rules)])
    feeds = compare.make_feeds(graph_def, inputs)
    result = reduce.reduce_graph(graph_def, check, inputs=inputs, outputs=outputs, feeds=feeds)
    assert result.original_nodes > 1000 and result.failure.kind == "mismatch"
    # The batch norm and nothing else: 5 Consts, their 4 Identity reads, 7 ops, 1 input.
    assert result.candidate.size <= 17
    assert {"Rsqrt", "Sub", "Placeholder"} <= set(op_list(result.candidate))
    assert not {"Conv2D", "DepthwiseConv2dNative", "Relu6"} & set(op_list(result.candidate))
    assert check(result.candidate) == result.failure


def table_graph():
    """words -> a lookup table -> float ids * 4 -> Relu6 -> out, with TF1's init_all_tables."""
    graph = tf.Graph()
    with graph.as_default():
        words = tf.compat.v1.placeholder(tf.string, [4], name="words")
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(["a", "b", "c"]), tf.constant([1, 2, 3], tf.int64)), -1
        )
        ids = tf.cast(table.lookup(words), tf.float32, name="ids")
        tf.identity(tf.nn.relu6(ids * 4.0, name="r6") + 1.0, name="out")
        tf.compat.v1.tables_initializer(name="init_all_tables")
    return graph.as_graph_def()


def test_a_lookup_table_is_kept_with_its_initializer():
    graph_def = table_graph()
    feeds = {"words": np.array([b"a", b"c", b"z", b"b"], dtype=object)}
    check = failures.CommandCheck("! grep -q LookupTableFind {graph}")
    result = reduce.reduce_graph(graph_def, check, inputs=["words"], outputs=["out"], feeds=feeds)
    kept = op_list(result.candidate)
    assert {"HashTableV2", "LookupTableImportV2", "LookupTableFindV2", "NoOp"} <= set(kept)
    assert "Relu6" not in kept and "Cast" not in kept
    # The subgraph runs by itself: its table is filled before the lookup.
    from graphrewrite.runner import run_graph

    (found,) = run_graph(result.candidate.graph_def, result.candidate.feeds, result.candidate.outputs)
    assert list(found) == [1, 3, -1, 2]
