"""The transform command end to end: GTT command lines, errors, atomic output, determinism."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from graphrewrite import io
from graphrewrite.cli import main, transform_graph_main
from graphrewrite.engine.attrvalues import DType, Shape
from graphrewrite.engine.graph import Graph, Node
from graphrewrite.runner import run_graph

F32 = DType(1)


def _graph_def():
    nodes = [
        Node.make("x", "Placeholder", [], {"dtype": F32, "shape": Shape((2, 3))}),
        Node.make("c", "Const", [], {"dtype": F32, "value": np.full((3,), 2.0, np.float32)}),
        Node.make("id", "Identity", ["x"], {"T": F32}),
        Node.make("check", "CheckNumerics", ["id"], {"T": F32, "message": "bad"}),
        Node.make("m", "Mul", ["check", "c"], {"T": F32}),
        Node.make("unused", "Neg", ["x"], {"T": F32}),
        Node.make("y", "Relu", ["m"], {"T": F32}),
    ]
    return Graph.from_nodes(nodes).to_graphdef()


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "in.pb"
    io.save_graph(_graph_def(), path)
    return path


SCRIPT = "strip_unused_nodes remove_nodes(op=Identity, op=CheckNumerics) sort_by_execution_order"


def _transform(graph_file, out, *extra, script=SCRIPT):
    return main(["transform", f"--in_graph={graph_file}", f"--out_graph={out}", "--inputs=x", "--outputs=y",
                 f"--transforms={script}", "--quiet", *extra])  # fmt: skip


def test_gtt_command_line_runs_and_preserves_outputs(graph_file, tmp_path):
    out = tmp_path / "out.pb"
    assert _transform(graph_file, out) == 0
    result = io.load_graph(out)
    assert sorted(n.op for n in result.node) == ["Const", "Mul", "Placeholder", "Relu"]
    feed = {"x": np.arange(6, dtype=np.float32).reshape(2, 3) - 2}
    np.testing.assert_array_equal(run_graph(_graph_def(), feed, ["y"])[0], run_graph(result, feed, ["y"])[0])


def test_output_is_deterministic(graph_file, tmp_path):
    a, b = tmp_path / "a.pb", tmp_path / "b.pb"
    _transform(graph_file, a)
    _transform(graph_file, b)
    assert a.read_bytes() == b.read_bytes()


def test_space_separated_flags_and_alias(graph_file, tmp_path, monkeypatch):
    out = tmp_path / "out.pbtxt"
    argv = ["transform_graph", "--in_graph", str(graph_file), "--out_graph", str(out), "--outputs", "y",
            "--inputs", "x", "--transforms", "remove_nodes(op=Identity)", "--quiet"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert transform_graph_main() == 0
    assert out.read_text().lstrip().startswith("node")  # .pbtxt name -> text output


def test_script_from_file_with_comments(graph_file, tmp_path):
    script = tmp_path / "pipeline.gt"
    script.write_text("# the standard clean-up\nremove_nodes(op=Identity,\n             op=CheckNumerics)  # both\n")
    out = tmp_path / "out.pb"
    assert _transform(graph_file, out, script=f"@{script}") == 0
    assert not {"Identity", "CheckNumerics"} & {n.op for n in io.load_graph(out).node}


@pytest.mark.parametrize(
    "script, message, hint",
    [
        ("fold_constant(ignore_errors=true)", "unknown transform 'fold_constant'", "did you mean 'fold_constants'?"),
        ("strip_unused_nodes(typ=float)", "typ", "did you mean 'type'?"),
        ("remove_nodes(op=Identity", "(", None),
    ],
)
def test_script_errors_are_located_and_write_nothing(graph_file, tmp_path, capsys, script, message, hint):
    out = tmp_path / "out.pb"
    assert _transform(graph_file, out, script=script) == 1
    err = capsys.readouterr().err
    assert "<transforms>:1:" in err and "^" in err and message in err
    if hint:
        assert hint in err
    assert "Traceback" not in err
    assert not out.exists()


def test_unknown_output_name_suggests(graph_file, tmp_path, capsys):
    out = tmp_path / "out.pb"
    code = main(["transform", f"--in_graph={graph_file}", f"--out_graph={out}", "--outputs=yy",
                 "--transforms=sort_by_execution_order", "--quiet"])  # fmt: skip
    assert code == 1 and "did you mean 'y'" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("content", [b"", b"\x08\x01garbage\xff\xfe", b"node { name: 'x' op: "])
def test_bad_input_files(tmp_path, capsys, content):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(content)
    out = tmp_path / "out.pb"
    assert _transform(bad, out) == 1
    err = capsys.readouterr().err
    assert "bad.pb" in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_missing_input_file(tmp_path, capsys):
    assert _transform(tmp_path / "nope.pb", tmp_path / "out.pb") == 1
    assert "cannot read" in capsys.readouterr().err


def test_refuses_to_overwrite_input(graph_file, capsys):
    before = graph_file.read_bytes()
    assert _transform(graph_file, graph_file) == 2
    assert graph_file.read_bytes() == before


def test_usage_error_exit_2(capsys):
    assert main(["transform", "--transforms=x"]) == 2
    assert "--in_graph" in capsys.readouterr().err


def test_dry_run_writes_nothing(graph_file, tmp_path, capsys):
    out = tmp_path / "out.pb"
    assert _transform(graph_file, out, "--dry-run") == 0
    text = capsys.readouterr().out
    assert "- id" in text and "- check" in text and "nothing was written" in text
    assert not out.exists()


def test_trace_json_lines_and_user_rules(tmp_path, capsys):
    nodes = [
        Node.make("x", "Placeholder", [], {"dtype": F32, "shape": Shape((3,))}),
        Node.make("n1", "Neg", ["x"], {"T": F32}),
        Node.make("n2", "Neg", ["n1"], {"T": F32}),
        Node.make("y", "Relu", ["n2"], {"T": F32}),
    ]
    graph_file = tmp_path / "negs.pb"
    io.save_graph(Graph.from_nodes(nodes).to_graphdef(), graph_file)
    rules = tmp_path / "my.rules"
    rules.write_text("rule drop_double_neg { match Neg(Neg(x)) rewrite x }\n")
    out = tmp_path / "out.pb"
    code = _transform(graph_file, out, f"--rules={rules}", "--trace", "--trace-format=json", script="drop_double_neg")
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [(e["rule"], e["root"]) for e in lines] == [("drop_double_neg", "n2")]
    assert [n.op for n in io.load_graph(out).node] == ["Placeholder", "Relu"]


def test_verify_each_passes(graph_file, tmp_path):
    out = tmp_path / "out.pb"
    assert _transform(graph_file, out, "--verify=each") == 0 and out.exists()


@pytest.mark.parametrize("args", [["--help"], ["rules"], ["transform", "--help"]])
def test_fast_paths_do_not_import_tensorflow(args):
    code = (
        "import sys\nfrom graphrewrite.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_verify_uses_the_lossy_transforms_tolerance(tmp_path, capsys):
    rng = np.random.default_rng(0)
    nodes = [
        Node.make("x", "Placeholder", [], {"dtype": F32, "shape": Shape((4, 64))}),
        Node.make("w", "Const", [], {"dtype": F32, "value": rng.normal(size=(64, 32)).astype(np.float32)}),
        Node.make("y", "MatMul", ["x", "w"], {"T": F32}),
    ]
    graph_file = tmp_path / "mm.pb"
    io.save_graph(Graph.from_nodes(nodes).to_graphdef(), graph_file)
    out = tmp_path / "out.pb"
    assert _transform(graph_file, out, "--verify", script="quantize_weights(minimum_size=16)") == 0
    err = capsys.readouterr().err
    assert "yes" in err and out.exists()
    assert "Dequantize" in {n.op for n in io.load_graph(out).node}
    # The float32 default would reject the same result: the tolerance really came from the step.
    assert _transform(graph_file, tmp_path / "strict.pb", "--verify", "--rtol=1e-6", "--atol=1e-7",
                      script="quantize_weights(minimum_size=16)") == 1  # fmt: skip
    assert not (tmp_path / "strict.pb").exists()


def test_a_rule_file_that_never_converges_stops_with_exit_1(graph_file, tmp_path, capsys):
    """The issue's runaway rule: a one-line error naming the rule and the growth, nothing written."""
    rules = tmp_path / "grow.rules"
    rules.write_text("rule grow { match Neg(x) rewrite Neg(Neg(x)) }\n")
    out = tmp_path / "out.pb"
    status = main([
        "transform", f"--in_graph={graph_file}", f"--out_graph={out}", "--inputs=x", "--outputs=y",
        f"--rules={rules}", "--transforms=grow",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1 and not out.exists()
    assert len(err.strip().splitlines()) == 1 and "grow still firing" in err and "nodes 7 ->" in err


def test_profile_prints_rounds_and_rules(graph_file, tmp_path, capsys):
    rules = tmp_path / "neg.rules"
    rules.write_text("rule drop_double_neg { match Neg(Neg(x)) rewrite x }\n")
    out = tmp_path / "out.pb"
    assert main([
        "transform", f"--in_graph={graph_file}", f"--out_graph={out}", "--inputs=x", "--outputs=y", "--quiet",
        "--transforms=remove_nodes(op=Identity, op=CheckNumerics) fold_constants", "--profile",
    ]) == 0  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("remove_nodes: 7 -> 5 nodes in ") and err[0].endswith("one pass")
    assert any(line.split()[:3] == ["remove_nodes", "tried", "1"] for line in err)


def test_profile_json_has_rounds_per_step(tmp_path):
    graph = Graph.from_nodes([
        Node.make("x", "Placeholder", [], {"dtype": F32}),
        *(Node.make(f"n{i}", "Neg", [f"n{i - 1}" if i else "x"], {"T": F32}) for i in range(6)),
    ])  # fmt: skip
    src, out, prof = tmp_path / "in.pb", tmp_path / "out.pb", tmp_path / "p.json"
    io.save_graph(graph.to_graphdef(), src)
    rules = tmp_path / "neg.rules"
    rules.write_text("rule drop_double_neg { match Neg(Neg(x)) rewrite x }\n")
    assert main([
        "transform", f"--in_graph={src}", f"--out_graph={out}", "--inputs=x", "--outputs=n5", "--quiet",
        f"--rules={rules}", "--transforms=drop_double_neg", f"--profile={prof}",
    ]) == 0  # fmt: skip
    step = json.loads(prof.read_text())["steps"][0]
    assert step["step"] == "drop_double_neg" and step["nodes_before"] == 7 and step["nodes_after"] == 2
    assert [r["rewrites"] for r in step["rounds"]][-1] == 0 and step["stopped"].startswith("fixed point after")
    assert step["rules"][0]["applied"] == 3  # Neg^6: three pairs, the outermost keeping its name


def test_trace_names_what_a_pass_changed(graph_file, tmp_path, capsys):
    out = tmp_path / "out.pb"
    assert main([
        "transform", f"--in_graph={graph_file}", f"--out_graph={out}", "--inputs=x", "--outputs=y", "--quiet",
        "--transforms=remove_nodes(op=Identity, op=CheckNumerics)", "--trace", "--trace-format=json",
    ]) == 0  # fmt: skip
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    removed = sorted(n for e in events for n in e["removed"])
    assert removed == ["check", "id"] and {e["rule"] for e in events} == {"remove_nodes"}
    assert any(e["root"] == "m" and e["added"] == ["m"] for e in events)  # m now reads x directly
