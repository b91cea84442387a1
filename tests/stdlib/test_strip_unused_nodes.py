"""strip_unused_nodes: pruning to the outputs, inputs as Placeholders, GTT's differences."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.attrvalues import DType
from graphrewrite.engine.errors import GraphError, NameNotFoundError, RuleError, UsageError
from graphrewrite.stdlib_rules.strip import STRIP_UNUSED_NODES as STRIP
from tests.helpers.structural import (
    F32,
    I32,
    apply,
    assert_clean,
    assert_same_outputs,
    binary,
    const,
    graph,
    names,
    op,
    ph,
    unary,
)


def _model():
    """x -> a = Relu(x) -> out = Add(a, c); dead = Neg(a); NoOp init with ^c."""
    return graph(
        ph("x", shape=(2,)),
        const("c", [1.0, 2.0]),
        unary("a", "Relu", "x"),
        binary("out", "AddV2", "a", "c"),
        unary("dead", "Neg", "a"),
        op("init", "NoOp", ["^c"]),
    )


def test_keeps_only_what_outputs_need_in_order():
    before = _model()
    after = apply(STRIP, before, inputs=["x"], outputs=["out"])
    assert names(after) == ["x", "c", "a", "out"]
    assert after.node("x") is before.node("x")  # an existing Placeholder is kept as is
    assert_clean(after, ["x"], ["out"])
    feeds = {"x": np.array([-1.0, 3.0], np.float32)}
    assert_same_outputs(before, after, feeds, ["out"])


def test_walk_follows_control_inputs_and_stops_at_inputs():
    g = graph(
        const("k", 1.0),
        unary("pre", "Neg", "k"),
        unary("x", "Identity", "pre"),
        op("dep", "NoOp"),
        unary("y", "Relu", "x", "^dep"),
    )
    after = apply(STRIP, g, inputs=["x"], outputs=["y"])
    assert names(after) == ["x", "dep", "y"]
    assert after.node("x").op == "Placeholder" and after.node("x").inputs == ()


def test_unreached_input_is_kept():
    g = graph(ph("x"), ph("unused"), unary("y", "Relu", "x"))
    after = apply(STRIP, g, inputs=["x", "unused"], outputs=["y"])
    assert names(after) == ["x", "unused", "y"]


def test_non_placeholder_input_gets_its_own_dtype_and_unknown_shape():
    g = graph(const("x", [1, 2], np.int32), unary("y", "Neg", "x", dtype=I32))
    after = apply(STRIP, g, inputs=["x"], outputs=["y"])
    x = after.node("x")
    assert x.op == "Placeholder" and x.get("dtype") == I32  # GTT: float
    assert x.get("shape") is None  # unknown rank; GTT: scalar
    # Feeding the old constant's value gives the old result.
    assert_same_outputs(g, after, {"x": np.array([1, 2], np.int32)}, ["y"])


def test_placeholder_with_default_keeps_dtype_and_declared_shape():
    g = graph(
        const("d", np.zeros((2, 3), np.float32)),
        op("x", "PlaceholderWithDefault", ["d"], dtype=F32, shape=_shape((None, 3))),
        unary("y", "Relu", "x"),
    )
    after = apply(STRIP, g, inputs=["x"], outputs=["y"])
    assert names(after) == ["x", "y"]
    assert after.node("x").get("shape") == (None, 3) and after.node("x").get("dtype") == F32


def test_type_and_shape_parameters_with_unknown_dims():
    g = graph(const("x", [1.0]), unary("y", "Relu", "x"))
    after = apply(STRIP, g, inputs=["x"], outputs=["y"], type="half", shape="-1,224,224,3")
    x = after.node("x")
    assert x.get("dtype") == DType.named("float16") and x.get("shape") == (None, 224, 224, 3)
    scalar = apply(STRIP, g, inputs=["x"], outputs=["y"], shape="")
    assert scalar.node("x").get("shape") == ()


def test_per_name_type_and_shape_override_defaults():
    g = graph(const("a", [1.0]), const("b", [1.0]), binary("y", "AddV2", "a", "b"))
    after = apply(
        STRIP, g, inputs=["a", "b:0"], outputs=["y"], type="float", shape="1",
        name=["b"], type_for_name=["double"], shape_for_name=["1,2"],
    )  # fmt: skip
    assert after.node("a").get("shape") == (1,) and after.node("a").get("dtype") == F32
    assert after.node("b").get("shape") == (1, 2) and after.node("b").get("dtype") == DType.named("double")


def test_no_outputs_prunes_only_what_fed_replaced_inputs():
    g = graph(const("k", 1.0), unary("x", "Neg", "k"), unary("y", "Relu", "x"), unary("side", "Neg", "k"), ph("p"))
    after = apply(STRIP, g, inputs=["x"])
    assert names(after) == ["k", "x", "y", "side", "p"]  # k still feeds side
    alone = apply(STRIP, graph(const("k", 1.0), unary("x", "Neg", "k"), unary("y", "Relu", "x")), inputs=["x"])
    assert names(alone) == ["x", "y"]
    untouched = graph(ph("p"), unary("y", "Relu", "p"), unary("z", "Neg", "p"))
    assert names(apply(STRIP, untouched)) == ["p", "y", "z"]


def test_device_kept_and_colocation_to_removed_nodes_dropped():
    g = graph(
        const("k", 1.0),
        op("x", "Identity", ["k"], device="/device:CPU:0", T=F32),
        op("y", "Relu", ["x"], T=F32, _class=["loc:@k", "loc:@x"]),
    )
    after = apply(STRIP, g, inputs=["x"], outputs=["y"])
    assert after.node("x").device == "/device:CPU:0"
    assert after.node("y").get("_class") == ["loc:@x"]


def test_protected_outputs_in_any_spelling_survive():
    g = _model()
    after = apply(STRIP, g, inputs=["x:0"], outputs=["out:0", "^dead"])
    assert {"x", "out", "dead"} <= set(names(after))


def test_errors_name_the_culprit():
    g = _model()
    with pytest.raises(NameNotFoundError, match=r"output 'outt'.*did you mean 'out'"):
        apply(STRIP, g, inputs=["x"], outputs=["outt"])
    with pytest.raises(UsageError, match="2 'type_for_name' values for 1 'name'"):
        apply(STRIP, g, inputs=["x"], outputs=["out"], name=["x"], type_for_name=["float", "int32"])
    with pytest.raises(UsageError, match="name='q' is not one of the graph inputs"):
        apply(STRIP, g, inputs=["x"], outputs=["out"], name=["q"], type_for_name=["float"])
    with pytest.raises(UsageError, match="needs a type_for_name or shape_for_name"):
        apply(STRIP, g, inputs=["x"], outputs=["out"], name=["x"])


def test_input_read_at_port_one_cannot_become_a_placeholder():
    g = graph(
        const("v", [1.0, 2.0]),
        const("axis", 0, np.int32),
        op("s", "Split", ["axis", "v"], T=F32, num_split=2),
        unary("y", "Relu", "s:1"),
    )
    with pytest.raises(RuleError, match="node 'y' reads 's:1'"):
        apply(STRIP, g, inputs=["s"], outputs=["y"])


def test_dangling_input_reached_by_the_walk_is_a_graph_error():
    g = graph(ph("x"), unary("y", "Relu", "ghost"))
    with pytest.raises(GraphError, match="node 'y': input 'ghost'"):
        apply(STRIP, g, inputs=["x"], outputs=["y"])


def _shape(dims):
    from graphrewrite.engine.attrvalues import shape_to_proto

    return shape_to_proto(dims)
