"""simplify_arithmetic's list rules (arithmetic.rules): hoisting an elementwise op over ConcatV2
(an element pattern, *fs: Relu(xs)), flattening nested ConcatV2 (two *lists in one input list),
removing IdentityN. Each alone on the smallest graph (applied count, ops after, numbers in
TensorFlow with grappler off, lint), each refusal with its recorded reason, and the InceptionV3
block shape through the whole group."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.engine.graph import TensorRef
from graphrewrite.stdlib_rules import rule_files
from tests.helpers.rule_graphs import (
    F32,
    I32,
    apply,
    assert_equivalent,
    const,
    graph,
    node,
    normal,
    ops,
    placeholder,
)

RULES = rule_files.BY_NAME
INPUTS = ["a", "b", "c"]
FEEDS = {"a": normal(1, 2, 2, 3), "b": normal(1, 2, 2, 4), "c": normal(1, 2, 2, 5)}


def _concat(name: str, *inputs: str, axis: str = "axis"):  # type: ignore[no-untyped-def]
    return node(name, "ConcatV2", *inputs, axis, N=len(inputs), Tidx=I32)


def _placeholders():  # type: ignore[no-untyped-def]
    return [placeholder(n, FEEDS[n].shape) for n in INPUTS] + [const("axis", 3, np.int32)]


def _unaries(op: str, **attrs):  # type: ignore[no-untyped-def]
    return [node(f"u{i}", op, name, **attrs) for i, name in enumerate(INPUTS)]


@pytest.mark.parametrize("op", ["Relu", "Relu6", "Tanh", "Neg"])
def test_hoist_unary_over_concat(op: str) -> None:
    before = graph(*_placeholders(), *_unaries(op), _concat("cat", "u0", "u1", "u2"), node("out", "Identity", "cat"))
    after, stats = apply(RULES["hoist_unary_over_concat"], before, INPUTS, ["out"])
    assert stats["hoist_unary_over_concat"].applied == 1
    assert ops(after) == ["Placeholder"] * 3 + ["Const", op, "Identity", "ConcatV2"]
    assert after.node("cat").op == op  # consumers keep reading 'cat'
    assert [str(r) for r in after.node(after.node("cat").inputs[0].node).inputs] == ["a", "b", "c", "axis"]
    assert_equivalent(before, after, FEEDS, ["out"])


def test_hoist_keeps_attributes_and_forwards_control_inputs() -> None:
    unaries = _unaries("LeakyRelu", alpha=0.3)
    unaries[1] = unaries[1].with_inputs([*unaries[1].inputs, TensorRef("axis", -1)])
    before = graph(*_placeholders(), *unaries, _concat("cat", "u0", "u1", "u2"), node("out", "Identity", "cat"))
    after, stats = apply(RULES["hoist_unary_over_concat"], before, INPUTS, ["out"])
    assert stats["hoist_unary_over_concat"].applied == 1
    hoisted = after.node("cat")
    assert hoisted.op == "LeakyRelu" and hoisted.get("alpha") == pytest.approx(0.3)
    assert TensorRef("axis", -1) in hoisted.inputs
    assert_equivalent(before, after, FEEDS, ["out"])


def test_hoisted_op_takes_the_concatenation_s_recorded_shape() -> None:
    from tensorflow.core.framework import attr_value_pb2

    def shape(*dims: int) -> dict[str, object]:
        value = attr_value_pb2.AttrValue()
        recorded = value.list.shape.add()
        for d in dims:
            recorded.dim.add().size = d
        return {"_output_shapes": value}

    unaries = [node(f"u{i}", "Relu", n, **shape(1, 2, 2, d)) for i, (n, d) in enumerate(zip(INPUTS, (3, 4, 5), strict=True))]
    before = graph(*_placeholders(), *unaries, node("cat", "ConcatV2", "u0", "u1", "u2", "axis", N=3, Tidx=I32, **shape(1, 2, 2, 12)))
    after, stats = apply(RULES["hoist_unary_over_concat"], before, INPUTS, ["cat"])
    assert stats["hoist_unary_over_concat"].applied == 1
    recorded = after.node("cat").attr["_output_shapes"].list.shape
    assert [[d.size for d in s.dim] for s in recorded] == [[1, 2, 2, 12]]
    assert_equivalent(before, after, FEEDS, ["cat"])


def test_hoist_refuses_different_ops() -> None:
    unaries = _unaries("Relu")
    unaries[2] = node("u2", "Tanh", "c")
    before = graph(*_placeholders(), *unaries, _concat("cat", "u0", "u1", "u2"))
    after, stats = apply(RULES["hoist_unary_over_concat"], before, INPUTS, ["cat"])
    assert stats["hoist_unary_over_concat"].rejected == {"where alike(fs) is false": 1}
    assert ops(after) == ops(before)


def test_hoist_refuses_different_attributes() -> None:
    unaries = _unaries("LeakyRelu", alpha=0.3)
    unaries[1] = node("u1", "LeakyRelu", "b", alpha=0.1)
    before = graph(*_placeholders(), *unaries, _concat("cat", "u0", "u1", "u2"))
    _, stats = apply(RULES["hoist_unary_over_concat"], before, INPUTS, ["cat"])
    assert stats["hoist_unary_over_concat"].rejected == {"where alike(fs) is false": 1}


@pytest.mark.parametrize("outputs", [["cat", "other"], ["cat", "u1"]])
def test_hoist_refuses_an_input_read_elsewhere(outputs: list[str]) -> None:
    before = graph(*_placeholders(), *_unaries("Relu"), _concat("cat", "u0", "u1", "u2"), node("other", "Neg", "u1"))
    after, stats = apply(RULES["hoist_unary_over_concat"], before, INPUTS, outputs)
    assert stats["hoist_unary_over_concat"].rejected == {"where all(single_use(fs)) is false": 1}
    assert ops(after) == ops(before)


def test_hoist_needs_two_unary_inputs() -> None:
    before = graph(*_placeholders(), node("u0", "Relu", "a"), _concat("cat", "u0", "b"))
    _, stats = apply(RULES["hoist_unary_over_concat"], before, INPUTS, ["cat"])
    assert (stats["hoist_unary_over_concat"].matched, stats["hoist_unary_over_concat"].applied) == (0, 0)


def test_inception_block_through_the_group() -> None:
    """mixed9: Concat(Relu(a), Concat(Relu(b), Relu(c)), Relu(d)) -> Relu(Concat(a, b, c, d))."""
    feeds = {**FEEDS, "d": normal(1, 2, 2, 2)}
    before = graph(
        *_placeholders(),
        placeholder("d", (1, 2, 2, 2)),
        *_unaries("Relu"),
        node("u3", "Relu", "d"),
        _concat("inner", "u1", "u2"),
        _concat("outer", "u0", "inner", "u3"),
        node("out", "Identity", "outer"),
    )
    after, stats = apply(RULES["simplify_arithmetic"], before, [*INPUTS, "d"], ["out"])
    assert stats["hoist_unary_over_concat"].applied == 2
    assert sorted(ops(after)) == sorted(["Placeholder"] * 4 + ["Const", "ConcatV2", "Relu", "Identity"])
    concat = after.node(after.node("outer").inputs[0].node)
    assert [str(r) for r in concat.data_inputs] == ["a", "b", "c", "d", "axis"]
    assert concat.get("N") == 4
    assert_equivalent(before, after, feeds, ["out"])


def _nested(*, inner_axis: int = 3, other_reader: bool = False):  # type: ignore[no-untyped-def]
    nodes = [
        *_placeholders(),
        const("inner_axis", inner_axis, np.int32),
        _concat("inner", "a", "b", axis="inner_axis"),
        _concat("outer", "inner", "c"),
        node("out", "Relu", "outer"),
    ]
    if other_reader:
        nodes.append(node("other", "Neg", "inner"))
    return graph(*nodes)


def test_merge_nested_concat() -> None:
    before = _nested()
    after, stats = apply(RULES["merge_nested_concat"], before, INPUTS, ["out"])
    assert stats["merge_nested_concat"].applied == 1
    assert ops(after) == ["Placeholder"] * 3 + ["Const", "ConcatV2", "Relu"]
    assert [str(r) for r in after.node("outer").inputs] == ["a", "b", "c", "axis"]
    assert after.node("outer").get("N") == 3
    assert_equivalent(before, after, FEEDS, ["out"])


def _two_inner(*, first_read_elsewhere: bool):  # type: ignore[no-untyped-def]
    """outer = ConcatV2(first, a, middle): two inner concatenations, the first maybe shared."""
    extra = [node("other", "Relu", "first")] if first_read_elsewhere else []
    return graph(
        *_placeholders(),
        _concat("first", "a", "b"),
        _concat("middle", "b", "c"),
        _concat("outer", "first", "a", "middle"),
        node("out", "Relu", "outer"),
        *extra,
    )


def test_merge_nested_concat_flattens_every_position() -> None:
    before = _two_inner(first_read_elsewhere=False)
    after, stats = apply(RULES["merge_nested_concat"], before, INPUTS, ["out"])
    assert stats["merge_nested_concat"].applied == 2  # one inner concatenation per rewrite
    assert [str(r) for r in after.node("outer").data_inputs] == ["a", "b", "a", "b", "c", "axis"]
    assert after.node("outer").get("N") == 5
    assert_equivalent(before, after, FEEDS, ["out"])


@pytest.mark.parametrize("case", ["other axis", "other reader"])
def test_merge_nested_concat_refuses(case: str) -> None:
    before = _nested(inner_axis=0, other_reader=False) if case == "other axis" else _nested(other_reader=True)
    outputs = ["out", "other"] if case == "other reader" else ["out"]
    after, stats = apply(RULES["merge_nested_concat"], before, INPUTS, outputs)
    reason = "where all(inner_axis == axis) is false" if case == "other axis" else "where single_use(inner) is false"
    assert stats["merge_nested_concat"].rejected == {reason: 1}
    assert ops(after) == ops(before)


def test_merge_nested_concat_tries_each_input_as_the_inner_one() -> None:
    """The first nested concatenation is read elsewhere; the second one is still spliced."""
    before = _two_inner(first_read_elsewhere=True)
    after, stats = apply(RULES["merge_nested_concat"], before, INPUTS, ["out", "other"])
    assert stats["merge_nested_concat"].applied == 1
    assert [str(r) for r in after.node("outer").data_inputs] == ["first", "a", "b", "c", "axis"]
    assert_equivalent(before, after, FEEDS, ["out", "other"])


def test_merge_nested_concat_refuses_a_computed_axis() -> None:
    before = graph(
        *_placeholders(),
        node("axis2", "Identity", "axis", T=I32),
        _concat("inner", "a", "b"),
        _concat("outer", "inner", "c", axis="axis2"),
    )
    _, stats = apply(RULES["merge_nested_concat"], before, INPUTS, ["outer"])
    assert stats["merge_nested_concat"].applied == 0
    assert stats["merge_nested_concat"].matched == 0  # the pattern wants a Const axis


def _swish(name: str, x: str) -> list:  # type: ignore[type-arg]
    """Keras' swish: IdentityN(x * sigmoid(x), x, beta) with a custom-gradient attribute."""
    return [
        node(f"{name}/sigmoid", "Sigmoid", x),
        node(f"{name}/mul", "Mul", x, f"{name}/sigmoid"),
        const(f"{name}/beta", 1.0),
        node(f"{name}/IdentityN", "IdentityN", f"{name}/mul", x, f"{name}/beta", T=[F32, F32, F32],
             _gradient_op_type="CustomGradient-1"),
    ]  # fmt: skip


def test_remove_identity_n() -> None:
    before = graph(
        placeholder("x", (2, 3)),
        *_swish("act", "x"),
        node("out", "Relu", "act/IdentityN"),
        node("second", "Neg", "act/IdentityN:1"),
    )
    after, stats = apply(RULES["remove_identity_n"], before, ["x"], ["out", "second"])
    assert stats["remove_identity_n"].applied == 1
    assert ops(after) == ["Placeholder", "Sigmoid", "Mul", "Relu", "Neg"]  # the beta Const went too
    assert [str(r) for r in after.node("out").inputs] == ["act/mul"]
    assert [str(r) for r in after.node("second").inputs] == ["x"]
    assert_equivalent(before, after, {"x": normal(2, 3)}, ["out", "second"])


def test_remove_identity_forwards_control_inputs() -> None:
    before = graph(
        placeholder("x", (2, 3)),
        const("gate", 1.0),
        node("id", "Identity", "x", "^gate"),
        node("out", "Relu", "id"),
    )
    after, stats = apply(RULES["remove_identity_n"], before, ["x"], ["out"])
    assert stats["remove_identity_n"].applied == 1
    assert [str(r) for r in after.node("out").inputs] == ["x", "^gate"]
    assert_equivalent(before, after, {"x": normal(2, 3)}, ["out"])


def test_remove_identity_n_refuses_a_graph_output() -> None:
    before = graph(placeholder("x", (2, 3)), *_swish("act", "x"))
    after, stats = apply(RULES["remove_identity_n"], before, ["x"], ["act/IdentityN"])
    assert stats["remove_identity_n"].rejected == {"rewrite: 'act/IdentityN' is a graph input or output": 1}
    assert ops(after) == ops(before)


def test_remove_identity_n_refuses_a_device_copy() -> None:
    before = graph(
        placeholder("x", (2, 3)).evolve(device="/device:CPU:0"),
        node("id", "Identity", "x").evolve(device="/device:GPU:0"),
        node("out", "Relu", "id"),
    )
    _, stats = apply(RULES["remove_identity_n"], before, ["x"], ["out"])
    assert stats["remove_identity_n"].rejected == {"where not copies_device(identity) is false": 1}
