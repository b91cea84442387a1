"""remove_nodes: splicing, ports, IdentityN, control edges, protected names, tf.cond."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.errors import UsageError
from graphrewrite.engine.graph import Graph
from graphrewrite.stdlib_rules.remove_nodes import REMOVE_NODES as REMOVE
from tests.helpers.rule_graphs import v1_graph
from tests.helpers.structural import (
    F32,
    I32,
    apply,
    assert_clean,
    assert_same_outputs,
    binary,
    const,
    evaluate,
    graph,
    inputs_of,
    names,
    op,
    ph,
    unary,
)

X = {"x": np.array([-1.5, 2.0], np.float32)}


def test_identity_spliced_out_and_outputs_unchanged():
    before = graph(ph("x"), unary("id", "Identity", "x"), unary("y", "Relu", "id"))
    after = apply(REMOVE, before, inputs=["x"], outputs=["y"], op=["Identity"])
    assert names(after) == ["x", "y"] and inputs_of(after, "y") == ["x"]
    assert_clean(after, ["x"], ["y"])
    assert_same_outputs(before, after, X, ["y"])


def test_chain_and_several_ops_in_one_pass():
    before = graph(
        ph("x"),
        unary("a", "Identity", "x"),
        op("b", "CheckNumerics", ["a"], T=F32, message="bad"),
        unary("c", "Identity", "b"),
        unary("y", "Neg", "c"),
    )
    after = apply(REMOVE, before, inputs=["x"], outputs=["y"], op=["Identity", "CheckNumerics"])
    assert names(after) == ["x", "y"] and inputs_of(after, "y") == ["x"]
    assert_same_outputs(before, after, X, ["y"])


def test_protected_names_in_any_spelling_are_kept():
    g = graph(ph("x"), unary("id", "Identity", "x"), unary("id2", "Identity", "id"), unary("y", "Relu", "id2"))
    after = apply(REMOVE, g, inputs=["x"], outputs=["y", "id:0"], op=["Identity"])
    assert names(after) == ["x", "id", "y"] and inputs_of(after, "y") == ["id"]


def test_input_port_is_preserved():
    before = graph(
        const("v", [1.0, 2.0, 3.0, 4.0]),
        const("axis", 0, np.int32),
        op("s", "Split", ["axis", "v"], T=F32, num_split=2),
        unary("id", "Identity", "s:1"),
        unary("y", "Neg", "id"),
    )
    after = apply(REMOVE, before, outputs=["y"], op=["Identity"])
    assert inputs_of(after, "y") == ["s:1"]
    assert_same_outputs(before, after, {}, ["y"])


def test_identity_n_is_port_aware():
    before = graph(
        ph("x"),
        const("k", [3.0, 4.0]),
        op("n", "IdentityN", ["x", "k"], T=[F32, F32]),
        binary("y", "Sub", "n:1", "n"),
    )
    after = apply(REMOVE, before, inputs=["x"], outputs=["y"], op=["IdentityN"])
    assert inputs_of(after, "y") == ["k", "x"]
    assert_same_outputs(before, after, X, ["y"])


def test_node_whose_unmapped_output_is_read_is_kept():
    g = graph(const("v", [1.0, 1.0, 2.0]), op("u", "Unique", ["v"], T=F32, out_idx=I32), unary("y", "Identity", "u:1", dtype=I32))
    after = apply(REMOVE, g, outputs=["y"], op=["Unique"])
    assert names(after) == names(g) and inputs_of(after, "y") == ["u:1"]  # GTT: 'u:1' left dangling


def test_control_inputs_are_forwarded_to_consumers():
    before = graph(
        ph("x"),
        op("c", "NoOp"),
        unary("id", "Identity", "x", "^c"),
        unary("y", "Relu", "id"),
        op("z", "NoOp", ["^id"]),
    )
    after = apply(REMOVE, before, inputs=["x"], outputs=["y", "z"], op=["Identity"])
    assert inputs_of(after, "y") == ["x", "^c"]  # GTT dropped ^c
    assert inputs_of(after, "z") == ["^x", "^c"]
    assert_clean(after, ["x"], ["y", "z"])


def test_max_inputs_keeps_input_zero_and_drops_unused_extra_inputs():
    before = graph(
        ph("x"),
        const("lo", -1.0),
        const("hi", 1.0),
        op("fq", "FakeQuantWithMinMaxVars", ["x", "lo", "hi"]),
        unary("y", "Relu", "fq"),
        unary("keep_hi", "Neg", "hi"),
    )
    default = apply(REMOVE, before, inputs=["x"], outputs=["y", "keep_hi"], op=["FakeQuantWithMinMaxVars"])
    assert "fq" in names(default)  # three inputs > max_inputs=1
    after = apply(REMOVE, before, inputs=["x"], outputs=["y", "keep_hi"], op=["FakeQuantWithMinMaxVars"], max_inputs="3")
    assert names(after) == ["x", "hi", "y", "keep_hi"]  # 'lo' went with fq; 'hi' is used elsewhere
    assert inputs_of(after, "y") == ["x"]


def test_colocation_follows_the_replacement():
    g = graph(ph("x"), unary("id", "Identity", "x"), op("y", "Relu", ["id"], T=F32, _class=["loc:@id"]))
    after = apply(REMOVE, g, inputs=["x"], outputs=["y"], op=["Identity"])
    assert after.node("y").get("_class") == ["loc:@x"]


def test_nothing_to_remove_leaves_the_graph_as_is():
    g = graph(ph("x"), unary("y", "Relu", "x"))
    assert apply(REMOVE, g, inputs=["x"], outputs=["y"], op=["Identity"]) is g


def test_parameter_errors():
    g = graph(ph("x"), unary("y", "Relu", "x"))
    with pytest.raises(UsageError, match="at least one 'op'"):
        apply(REMOVE, g, outputs=["y"])
    with pytest.raises(UsageError, match="max_inputs=0"):
        apply(REMOVE, g, outputs=["y"], op=["Identity"], max_inputs="0")


def test_tf_cond_branches_keep_working():
    before = _cond_graph()
    after = apply(REMOVE, before, inputs=["p", "x"], outputs=["y"], op=["Identity"])
    assert len(after) < len(before)
    assert_clean(after, ["p", "x"], ["y"])
    assert {"cond/switch_t", "cond/switch_f"} <= set(names(after))  # the anchors (GTT removed them)
    for pred, expected in ((True, 13.0), (False, 6.0)):
        feeds = {"p": np.array(pred), "x": np.array(3.0, np.float32)}
        assert evaluate(after, feeds, ["y"])[0] == expected


def _cond_graph() -> Graph:
    """A TF1-style tf.cond (Switch/Merge). The true branch is a constant that only a control
    edge on the Identity(Switch:1) anchor keeps in its branch."""
    def build(tf):
        p = tf.compat.v1.placeholder(tf.bool, (), name="p")
        x = tf.compat.v1.placeholder(tf.float32, (), name="x")
        y = tf.compat.v1.cond(p, lambda: tf.constant(13.0), lambda: x * 2.0)
        tf.identity(y, name="y")

    return v1_graph(build)
