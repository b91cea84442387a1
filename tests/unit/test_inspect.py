"""summarize (GTT's summarize_graph done right) and resolve_names (names as users write them)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphrewrite import inspect
from graphrewrite.engine.attrvalues import DType, shape_to_proto
from graphrewrite.engine.errors import NameNotFoundError
from graphrewrite.engine.graph import Graph, Node
from tests.helpers.rule_graphs import const

F32, I32, RES = DType(1), DType(3), DType(20)


def ph(name, dtype=F32, shape=(None, 3)):
    return Node.make(name, "Placeholder", (), {"dtype": dtype, "shape": shape_to_proto(shape)})


def sample() -> Graph:
    return Graph.from_nodes([
        ph("x"),
        ph("unused_control_flow_input_3"),
        Node.make("rate", "PlaceholderWithDefault", ["half"], {"dtype": F32, "shape": shape_to_proto(())}),
        const("half", 0.5),
        const("w", np.ones((3, 4))),
        Node.make("v", "VarHandleOp", (), {"dtype": F32, "shape": shape_to_proto((4, 2)), "shared_name": "v"}),
        Node.make("read", "ReadVariableOp", ["v"], {"dtype": F32}),
        Node.make("mm", "MatMul", ["x", "w"], {"T": F32}, device="/device:CPU:0"),
        Node.make("scaled", "Mul", ["mm", "rate", "^half"], {"T": F32}, device="/device:CPU:0"),
        Node.make("out", "Identity", ["scaled"], {"T": F32}),
        Node.make("split", "Unique", ["x"], {"T": F32, "out_idx": I32}),
        Node.make("init", "NoOp", ["^read"]),
        Node.make("v/Assign", "AssignVariableOp", ["v", "w"], {"dtype": F32}),
    ])  # fmt: skip


def test_summarize_finds_true_inputs_outputs_variables_and_sizes():
    s = inspect.summarize(sample())
    assert s.node_count == 13
    assert [(t.name, t.dtype, t.shape) for t in s.inputs] == [("x", "float32", (None, 3))]
    assert [t.name for t in s.optional_inputs] == ["rate"]
    assert [(o.name, o.op) for o in s.outputs] == [("out", "Identity"), ("split", "Unique")]
    assert [(v.name, v.op, v.dtype, v.shape) for v in s.variables] == [("v", "VarHandleOp", "float32", (4, 2))]
    assert (s.const_parameters, s.const_bytes, s.variable_parameters) == (13, 52, 8)
    assert s.control_edges == 2
    assert s.op_counts["Placeholder"] == 2 and next(iter(s.op_counts)) == "Const"  # most common first
    assert s.devices == {"/device:CPU:0": 2}
    assert s.training_nodes == ("v/Assign",)
    assert s.problems == ()


def test_render_and_json_report_the_same_things():
    s = inspect.summarize(sample())
    text = inspect.render(s, "model.pb")
    assert "inputs (1):\n  x  float32  [?,3]" in text
    assert "variables (1, not frozen):\n  v  VarHandleOp float32 [4,2]" in text
    assert "parameters: 13 in constants (52 bytes), 8 in variables" in text
    assert "freeze it first:" in text and "--output_node_names=out,split" in text
    assert "graphrewrite transform --in_graph=model.pb --out_graph=model_optimized.pb --inputs=x --outputs=out,split" in text
    report = json.loads(json.dumps(inspect.as_json(s, "model.pb")))
    assert report["node_count"] == 13
    assert report["inputs"] == [{"name": "x", "dtype": "float32", "shape": [-1, 3]}]
    assert report["outputs"] == [{"name": "out", "op": "Identity"}, {"name": "split", "op": "Unique"}]
    assert report["variables"] == [{"name": "v", "op": "VarHandleOp", "dtype": "float32", "shape": [4, 2]}]
    assert report["op_counts"]["MatMul"] == 1
    assert (report["const_parameters"], report["control_edges"]) == (13, 2)


def test_functions_are_counted_apart_and_dangling_inputs_reported():
    from google.protobuf import text_format

    from graphrewrite import _tf

    graph_def = Graph.from_nodes([ph("x"), Node.make("y", "Relu", ["x", "^ghost"], {"T": F32})]).to_graphdef()
    text_format.Parse('signature { name: "f" } node_def { name: "c" op: "Const" }', graph_def.library.function.add())
    s = inspect.summarize(graph_def)
    assert s.functions == {"f": 1} and s.function_op_counts == {"Const": 1}
    assert "Const" not in s.op_counts
    assert s.problems == ("node 'y': input '^ghost' names a node that does not exist",)
    assert isinstance(_tf.pb().GraphDef(), type(graph_def))


def test_structure_lists_inputs_before_users():
    lines = inspect.structure(sample())
    order = [line.split(" ")[0] for line in lines]
    assert order.index("w") < order.index("mm") < order.index("scaled") < order.index("out")
    assert "mm (MatMul): [x, w]" in lines
    assert any(line.startswith("w (Const): [], value=<2-d [3,4]>") for line in lines)


@pytest.mark.parametrize(("value", "text"), [(999, "999"), (4000, "4.00k"), (1_234_567, "1.23M"), (2_500_000_000, "2.50B")])
def test_human_number_is_gtts(value, text):
    assert inspect.human_number(value) == text


def test_resolve_names_accepts_every_spelling():
    g = Graph.from_nodes([ph("x"), ph("import/y"), Node.make("split", "Unique", ["x"], {"T": F32, "out_idx": I32})])
    assert inspect.resolve_names(g, ["x", "x:0", "^x", " split:1 ", "", "y", "import/x", "serving_default_x"]) == [
        "x", "x", "x", "split:1", "import/y", "x", "x",
    ]  # fmt: skip
    assert inspect.resolve_names(g, ["images"], aliases={"images": "x:0"}) == ["x"]


def test_resolve_names_reports_every_missing_name_with_hints():
    g = Graph.from_nodes([ph("input_1"), Node.make("logits", "Relu", ["input_1"], {"T": F32})])
    with pytest.raises(NameNotFoundError, match=r"no node named 'input1' \(did you mean 'input_1'\?\), 'logit:0' \(did you mean 'logits'\?\)"):
        inspect.resolve_names(g, ["input1", "logits", "logit:0"])
    with pytest.raises(NameNotFoundError, match=r"'logits:1': node 'logits' \(Relu\) has 1 output"):
        inspect.resolve_names(g, ["logits:1"])
