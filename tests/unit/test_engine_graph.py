"""Graph values: parsing inputs, round trips, incremental indexes."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.errors import GraphError, NameNotFoundError
from graphrewrite.engine.graph import CONTROL, Graph, Node, TensorRef


def _graph() -> Graph:
    f32 = DType.named("float")
    return Graph.from_nodes(
        [
            Node.make("x", "Placeholder", [], {"dtype": f32}),
            Node.make("c", "Const", [], {"dtype": f32, "value": np.array(2.0, np.float32)}),
            Node.make("m", "Mul", ["x", "c:0", "^x"], {"T": f32}),
            Node.make("y", "Identity", ["m"], {"T": f32}),
        ]
    )


@pytest.mark.parametrize(
    "text, ref",
    [("x", TensorRef("x", 0)), ("x:0", TensorRef("x", 0)), ("x:3", TensorRef("x", 3)), ("^x", TensorRef("x", CONTROL)),
     ("a/b:c", TensorRef("a/b:c", 0))],
)  # fmt: skip
def test_tensor_ref_parse(text, ref):
    assert TensorRef.parse(text) == ref


def test_tensor_ref_str_is_tf_spelling():
    assert [str(TensorRef.parse(t)) for t in ("x:0", "x:2", "^x")] == ["x", "x:2", "^x"]


def test_indexes_and_queries():
    g = _graph()
    assert g.consumers("x") == ("m",)
    assert g.nodes_of_op("Mul") == ("m",)
    assert g.node("m:0").name == "m"
    assert g.node("m").data_inputs == (TensorRef("x"), TensorRef("c"))
    assert g.node("m").control_inputs == (TensorRef("x", CONTROL),)


def test_unknown_name_suggests():
    with pytest.raises(NameNotFoundError, match="did you mean 'm'"):
        _graph().node("mm")


def test_duplicate_names_rejected():
    with pytest.raises(GraphError, match="two nodes named 'a'"):
        Graph.from_nodes([Node.make("a", "NoOp"), Node.make("a", "NoOp")])


def test_replace_is_persistent_and_patches_indexes():
    g = _graph()
    g2 = g.replace([Node.make("z", "Neg", ["m"])], ["y"])
    assert "y" in g and "y" not in g2
    assert g.consumers("m") == ("y",)
    assert g2.consumers("m") == ("z",)
    assert g2.nodes_of_op("Identity") == ()
    assert list(g2.names) == ["x", "c", "m", "z"]


def test_replacing_keeps_position():
    g = _graph().replace([Node.make("m", "AddV2", ["x", "c"])])
    assert list(g.names) == ["x", "c", "m", "y"]
    assert g.nodes_of_op("Mul") == () and g.nodes_of_op("AddV2") == ("m",)


def test_graphdef_round_trip_keeps_untouched_nodedefs():
    gd = _graph().to_graphdef()
    gd.versions.producer = 1234
    g = Graph.from_graphdef(gd)
    out = g.to_graphdef()
    assert out == gd
    assert out.versions.producer == 1234
    assert g.node("m").nodedef == gd.node[2] and g.node("m").nodedef is not gd.node[2]  # a private copy
    assert Graph.from_graphdef(gd, copy=False).node("m").nodedef is gd.node[2]  # for messages the caller owns


def test_attr_values_decode():
    g = _graph()
    assert g.node("m").get("T") == DType.named("float32")
    assert float(g.node("c").value()) == 2.0
    assert g.node("m").get("missing", 7) == 7


def test_unique_name():
    g = _graph()
    assert g.unique_name("new") == "new"
    assert g.unique_name("m") == "m_1"
    assert g.unique_name("m", taken={"m_1"}) == "m_2"


def test_with_inputs_takes_a_generator_without_losing_control_inputs():
    node = Node.make("n", "Identity", ["x"])
    refs = (r for r in (TensorRef("a", 0), TensorRef("c", CONTROL)))
    assert node.with_inputs(refs).inputs == (TensorRef("a", 0), TensorRef("c", CONTROL))


def test_a_graph_does_not_share_the_callers_nodedefs():
    graph_def = Graph.from_nodes([Node.make("x", "Placeholder", [], {"dtype": DType(1)})]).to_graphdef()
    graph = Graph.from_graphdef(graph_def)
    graph_def.node[0].op = "Const"
    graph_def.node[0].attr["dtype"].type = 3
    assert graph.node("x").op == "Placeholder" and graph.to_graphdef().node[0].attr["dtype"].type == 1


def test_the_dtype_table_is_tensorflows():
    """DType names and numbers come from a table (no TensorFlow import); it must be TF's."""
    import tensorflow as tf

    from graphrewrite.engine.attrvalues import _NAMES

    for enum, name in _NAMES.items():
        assert tf.as_dtype(enum).name == name
        assert DType.named(name) == DType(enum) and DType(enum).name == name
    assert DType.named("DT_FLOAT") == DType.named("float") == DType(1)
    assert DType.named("float32_ref").name == "float32_ref"  # the rest still asks TensorFlow
    with pytest.raises(ValueError, match="unknown dtype 'floot'"):
        DType.named("floot")
