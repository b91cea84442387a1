"""explain: why a rule fires, or where its pattern stops matching."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite import io
from graphrewrite.cli import main
from graphrewrite.engine.attrvalues import DType, Shape
from graphrewrite.engine.graph import Graph, Node

F32 = DType(1)
RULES = """
rule min_relu_is_relu6 "Minimum(Relu(x), 6) -> Relu6(x)" {
    match   Minimum(Relu(x), c: Const)
    where   all(c == 6)
    rewrite Relu6(x)
}
"""


@pytest.fixture
def files(tmp_path):
    nodes = [
        Node.make("x", "Placeholder", [], {"dtype": F32, "shape": Shape((3,))}),
        Node.make("relu", "Relu", ["x"], {"T": F32}),
        Node.make("six", "Const", [], {"dtype": F32, "value": np.array(6.0, np.float32)}),
        Node.make("five", "Const", [], {"dtype": F32, "value": np.array(5.0, np.float32)}),
        Node.make("clip6", "Minimum", ["relu", "six"], {"T": F32}),
        Node.make("clip5", "Minimum", ["relu", "five"], {"T": F32}),
        Node.make("neg", "Neg", ["x"], {"T": F32}),
        Node.make("clipneg", "Minimum", ["neg", "six"], {"T": F32}),
    ]
    graph, rules = tmp_path / "g.pb", tmp_path / "r.rules"
    io.save_graph(Graph.from_nodes(nodes).to_graphdef(), graph)
    rules.write_text(RULES)
    return graph, rules


def _explain(files, node, capsys):
    graph, rules = files
    code = main(["explain", f"--in_graph={graph}", f"--rules={rules}", "--rule=min_relu_is_relu6", f"--node={node}"])
    return code, capsys.readouterr()


def test_fires(files, capsys):
    code, out = _explain(files, "clip6", capsys)
    assert code == 0 and "fires at 'clip6'" in out.out and "Relu6" in out.out


def test_guard_refuses_with_the_failed_clause(files, capsys):
    code, out = _explain(files, "clip5", capsys)
    assert code == 0 and "guard refuses" in out.out and "c == 6" in out.out


def test_deepest_failure_named(files, capsys):
    code, out = _explain(files, "clipneg", capsys)
    assert code == 0 and "at node 'neg'" in out.out and "Neg" in out.out and "Relu" in out.out


def test_unknown_node_and_rule(files, capsys):
    code, out = _explain(files, "clip", capsys)
    assert code == 1 and "did you mean" in out.err
    graph, _rules = files
    assert main(["explain", f"--in_graph={graph}", "--rule=fold_batch_norm", "--node=x"]) == 1
    assert "did you mean 'fold_batch_norms'" in capsys.readouterr().err
