"""simplify_arithmetic: each identity alone on the smallest graph (applied count, ops after,
numbers in TensorFlow, lint), and a refusal with its reason where broadcasting or a
non-identity constant would change the result."""

from __future__ import annotations

import numpy as np
import pytest

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


def _binary(op: str, value, *, shape=(2, 3), constant_first: bool = False):  # type: ignore[no-untyped-def]
    inputs = ("c", "x") if constant_first else ("x", "c")
    return graph(placeholder("x", shape), const("c", value), node("y", op, *inputs), node("out", "Relu", "y"))


IDENTITIES = [
    ("mul_by_one", "Mul", 1.0),
    ("div_by_one", "RealDiv", 1.0),
    ("div_by_one", "Div", 1.0),
    ("add_zero", "Add", 0.0),
    ("add_zero", "AddV2", 0.0),
    ("sub_zero", "Sub", 0.0),
]


@pytest.mark.parametrize("rule, op, value", IDENTITIES)
@pytest.mark.parametrize("constant", ["scalar", "fitting"])
def test_identity_with_a_constant(rule: str, op: str, value: float, constant: str) -> None:
    array = np.full(() if constant == "scalar" else (1, 3), value, np.float32)
    before = _binary(op, array)
    after, stats = apply(RULES[rule], before, ["x"], ["out"])
    assert stats[rule].applied == 1
    assert ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(2, 3)}, ["out"])


def test_bias_add_zero() -> None:
    before = _binary("BiasAdd", np.zeros(3, np.float32))
    after, stats = apply(RULES["bias_add_zero"], before, ["x"], ["out"])
    assert stats["bias_add_zero"].applied == 1 and ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(2, 3)}, ["out"])


def test_bias_add_zero_refuses_a_real_bias() -> None:
    before = _binary("BiasAdd", np.ones(3, np.float32))
    _, stats = apply(RULES["bias_add_zero"], before, ["x"], ["out"])
    assert stats["bias_add_zero"].rejected == {"where all(c == 0) is false": 1}


def test_mul_by_one_with_the_constant_first() -> None:
    before = _binary("Mul", 1.0, constant_first=True)
    after, stats = apply(RULES["mul_by_one"], before, ["x"], ["out"])
    assert stats["mul_by_one"].applied == 1 and ops(after) == ["Placeholder", "Relu"]


@pytest.mark.parametrize("rule, op, value", IDENTITIES)
def test_identity_refuses_another_constant(rule: str, op: str, value: float) -> None:
    before = _binary(op, value + 2.0)
    after, stats = apply(RULES[rule], before, ["x"], ["out"])
    (reason,) = stats[rule].rejected
    assert reason.startswith("where ") and reason.endswith(f"all(c == {int(value)}) is false")
    assert ops(after) == ops(before)


def test_identity_refuses_a_constant_that_broadcasts() -> None:
    before = _binary("Mul", np.ones((4, 2, 3), np.float32))
    _, stats = apply(RULES["mul_by_one"], before, ["x"], ["out"])
    assert stats["mul_by_one"].rejected == {"where keeps_shape(x, c) is false": 1}


def test_identity_refuses_when_the_shape_of_x_is_unknown() -> None:
    before = _binary("AddV2", np.zeros((1, 3), np.float32), shape=None)
    _, stats = apply(RULES["add_zero"], before, ["x"], ["out"])
    assert stats["add_zero"].rejected == {"where keeps_shape(x, c) is false": 1}


def test_double_neg() -> None:
    before = graph(placeholder("x"), node("a", "Neg", "x"), node("b", "Neg", "a"), node("out", "Relu", "b"))
    after, stats = apply(RULES["double_neg"], before, ["x"], ["out"])
    assert stats["double_neg"].applied == 1 and ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(5)}, ["out"])


def test_double_neg_does_not_match_a_single_neg() -> None:
    before = graph(placeholder("x"), node("a", "Neg", "x"), node("out", "Relu", "a"))
    after, stats = apply(RULES["double_neg"], before, ["x"], ["out"])
    assert (stats["double_neg"].matched, stats["double_neg"].applied) == (0, 0)
    assert ops(after) == ops(before)


def _transpose(name: str, x: str, perm: list[int]) -> list:  # type: ignore[type-arg]
    return [const(name + "/perm", perm, np.int32), node(name, "Transpose", x, name + "/perm", Tperm=I32)]


def test_identity_transpose() -> None:
    before = graph(placeholder("x"), *_transpose("t", "x", [0, 1, 2]), node("out", "Relu", "t"))
    after, stats = apply(RULES["identity_transpose"], before, ["x"], ["out"])
    assert stats["identity_transpose"].applied == 1 and ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(2, 3, 4)}, ["out"])


def test_identity_transpose_refuses_a_permutation() -> None:
    before = graph(placeholder("x"), *_transpose("t", "x", [0, 2, 1]), node("out", "Relu", "t"))
    _, stats = apply(RULES["identity_transpose"], before, ["x"], ["out"])
    assert stats["identity_transpose"].rejected == {"where all(perm == arange(size(perm))) is false": 1}


def test_cancelling_transposes() -> None:
    p = [0, 2, 3, 1]  # NCHW -> NHWC
    q = [0, 3, 1, 2]  # NHWC -> NCHW
    before = graph(placeholder("x"), *_transpose("t1", "x", p), *_transpose("t2", "t1", q), node("out", "Relu", "t2"))
    after, stats = apply(RULES["cancelling_transposes"], before, ["x"], ["out"])
    assert stats["cancelling_transposes"].applied == 1 and ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(1, 2, 3, 4)}, ["out"])


def test_cancelling_transposes_refuses_transposes_that_compose_to_a_permutation() -> None:
    p = [0, 2, 3, 1]
    before = graph(placeholder("x"), *_transpose("t1", "x", p), *_transpose("t2", "t1", p), node("out", "Relu", "t2"))
    _, stats = apply(RULES["cancelling_transposes"], before, ["x"], ["out"])
    assert stats["cancelling_transposes"].rejected == {"where all(p[q] == arange(size(p))) is false": 1}


def test_reshape_of_reshape() -> None:
    before = graph(
        placeholder("x"),
        const("s1", [6, 4], np.int32),
        node("r1", "Reshape", "x", "s1", Tshape=I32),
        const("s2", [3, -1], np.int32),
        node("r2", "Reshape", "r1", "s2", Tshape=I32),
    )
    after, stats = apply(RULES["reshape_of_reshape"], before, ["x"], ["r2"])
    assert stats["reshape_of_reshape"].applied == 1
    assert ops(after) == ["Placeholder", "Const", "Reshape"]
    assert [str(i) for i in after.node("r2").inputs] == ["x", "s2"]
    assert_equivalent(before, after, {"x": normal(2, 3, 4)}, ["r2"])


def test_reshape_of_reshape_keeps_a_shared_inner_reshape() -> None:
    before = graph(
        placeholder("x"),
        const("s1", [6, 4], np.int32),
        node("r1", "Reshape", "x", "s1", Tshape=I32),
        const("s2", [24], np.int32),
        node("r2", "Reshape", "r1", "s2", Tshape=I32),
        node("other", "Relu", "r1"),
    )
    after, stats = apply(RULES["reshape_of_reshape"], before, ["x"], ["r2", "other"])
    assert stats["reshape_of_reshape"].applied == 1 and "r1" in after
    assert_equivalent(before, after, {"x": normal(2, 3, 4)}, ["r2", "other"])


def test_reshape_of_reshape_needs_two_reshapes() -> None:
    before = graph(
        placeholder("x"), node("r1", "Relu", "x"), const("s2", [24], np.int32), node("r2", "Reshape", "r1", "s2", Tshape=I32)
    )
    after, stats = apply(RULES["reshape_of_reshape"], before, ["x"], ["r2"])
    assert (stats["reshape_of_reshape"].matched, stats["reshape_of_reshape"].applied) == (0, 0)
    assert ops(after) == ops(before)


def test_cast_to_same_type() -> None:
    before = graph(placeholder("x"), node("c", "Cast", "x", SrcT=F32, DstT=F32), node("out", "Relu", "c"))
    after, stats = apply(RULES["cast_to_same_type"], before, ["x"], ["out"])
    assert stats["cast_to_same_type"].applied == 1 and ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(4)}, ["out"])


def test_cast_to_same_type_refuses_a_real_cast() -> None:
    before = graph(placeholder("x"), node("c", "Cast", "x", SrcT=F32, DstT=I32))
    _, stats = apply(RULES["cast_to_same_type"], before, ["x"], ["c"])
    assert stats["cast_to_same_type"].rejected == {"where cast.SrcT == cast.DstT is false": 1}


def test_pad_with_zeros() -> None:
    before = graph(
        placeholder("x"),
        const("p", np.zeros((2, 2)), np.int32),
        node("pad", "Pad", "x", "p", Tpaddings=I32),
        node("out", "Relu", "pad"),
    )
    after, stats = apply(RULES["pad_with_zeros"], before, ["x"], ["out"])
    assert stats["pad_with_zeros"].applied == 1 and ops(after) == ["Placeholder", "Relu"]
    assert_equivalent(before, after, {"x": normal(2, 3)}, ["out"])


def test_pad_with_zeros_refuses_real_padding() -> None:
    before = graph(placeholder("x"), const("p", [[0, 1], [0, 0]], np.int32), node("pad", "Pad", "x", "p", Tpaddings=I32))
    _, stats = apply(RULES["pad_with_zeros"], before, ["x"], ["pad"])
    assert stats["pad_with_zeros"].rejected == {"where all(paddings == 0) is false": 1}


def test_simplify_arithmetic_runs_to_a_fixed_point() -> None:
    before = graph(
        placeholder("x", (2, 3)),
        node("n1", "Neg", "x"),
        node("n2", "Neg", "n1"),
        const("one", 1.0),
        node("m", "Mul", "n2", "one"),
        const("zero", np.zeros((3,), np.float32)),
        node("a", "AddV2", "zero", "m"),
    )
    after, stats = apply(RULES["simplify_arithmetic"], before, ["x"], ["a"])
    assert sum(s.applied for s in stats.values()) == 3
    assert ops(after) == ["Placeholder", "Identity"]  # the protected output survives as Identity(x)
    assert_equivalent(before, after, {"x": normal(2, 3)}, ["a"])
