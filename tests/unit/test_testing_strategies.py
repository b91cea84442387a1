"""graphrewrite.testing.graphs: random valid graphs from an op palette."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis.errors import InvalidArgument

from graphrewrite.engine.graph import Graph
from graphrewrite.engine.validate import lint
from graphrewrite.runner import run_graph
from graphrewrite.testing import PALETTE, GraphCase, catalogue, graphs, register_op
from tests.helpers.rule_graphs import ops


@settings(max_examples=25, deadline=None)
@given(graphs(max_nodes=10, control_edges=True))
def test_generated_graphs_are_valid_and_run(case: GraphCase) -> None:
    graph = case.graph()
    assert lint(graph) == []
    assert set(case.inputs) == {n.name for n in graph if n.op == "Placeholder"}
    assert case.outputs and all(not graph.has_consumers(o) for o in case.outputs)
    assert all(ref.node in graph for n in graph for ref in n.inputs)
    values = run_graph(case.graph_def, case.feeds, case.outputs)
    assert len(values) == len(case.outputs)
    for name, value in case.feeds.items():
        assert value.shape == tuple(graph.node(name).get("shape"))


@settings(max_examples=10, deadline=None)
@given(graphs(ops=("AddV2", "Mul", "Neg", "MatMul", "Reshape"), dtypes=("int32",), max_nodes=4))
def test_integer_graphs(case: GraphCase) -> None:
    assert all(v.dtype == np.int32 for v in case.feeds.values())
    run_graph(case.graph_def, case.feeds, case.outputs)


def test_shrinks_toward_few_nodes() -> None:
    minimal = find(
        graphs(ops=("Relu", "AddV2", "Neg", "Conv2D", "Reshape"), max_nodes=10),
        lambda c: "Conv2D" in ops(c.graph_def) and len(c.graph_def.node) > 0,
        settings=settings(max_examples=500, database=None, derandomize=True),
    )
    assert sorted(ops(minimal.graph_def)) == ["Const", "Conv2D", "Placeholder"]
    assert minimal.graph_def.node[-1].op == "Conv2D"


def test_control_edges_are_generated() -> None:
    found = find(
        graphs(control_edges=True),
        lambda c: any(ref.startswith("^") for n in c.graph_def.node for ref in n.input),
        settings=settings(max_examples=100, database=None, derandomize=True),
    )
    assert lint(found.graph()) == []


def test_graphs_reuse_tensors_so_graphs_are_dags() -> None:
    found = find(
        graphs(ops=("AddV2", "Relu", "Neg")),
        lambda c: any(len(c.graph().consumers(n.name)) > 1 for n in c.graph_def.node if n.op != "Const"),
        settings=settings(max_examples=200, database=None, derandomize=True),
    )
    run_graph(found.graph_def, found.feeds, found.outputs)


def test_palette_ops_all_have_catalogue_entries() -> None:
    assert set(PALETTE) <= catalogue.known_ops()


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(InvalidArgument, match=r"no catalogue entry for 'Bogus'.*known ops: .*Conv2D"):
        graphs(ops=("Relu", "Bogus"))
    with pytest.raises(InvalidArgument, match="max_nodes=0"):
        graphs(max_nodes=0)
    with pytest.raises(InvalidArgument, match="no op in the palette accepts"):
        graphs(ops=("Conv2D",), dtypes=("int64",))


def test_register_op_teaches_a_new_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogue, "CATALOGUE", dict(catalogue.CATALOGUE))  # undone after the test
    with pytest.raises(InvalidArgument):
        graphs(ops=("Softsign",))
    register_op("Softsign", catalogue.CATALOGUE["Tanh"].make, dtypes=catalogue.FLOATS)
    case = find(graphs(ops=("Softsign",)), lambda c: "Softsign" in ops(c.graph_def), settings=settings(database=None, derandomize=True))
    run_graph(case.graph_def, case.feeds, case.outputs)


def test_case_describes_itself_for_counterexamples() -> None:
    case = find(graphs(ops=("Conv2D",)), lambda c: True, settings=settings(database=None, derandomize=True))
    text = case.describe()
    assert "conv2d = Conv2D(input, const) " in text and "padding=" in text
    assert "input = float32[" in text
    assert 'op: "Conv2D"' in case.graph_def_text()
    assert Graph.from_graphdef(case.graph_def).node("conv2d").op == "Conv2D"
