"""simplify_arithmetic's constant chains: two scales or two shifts become one, a scale moves in
front of a shift, and a zero shift after a scale goes. Each rule alone on the smallest graph
(applied count, ops after, numbers in TensorFlow with grappler off, lint), each refusal with its
recorded reason, and the whole group on a Rescaling + Normalization chain."""

from __future__ import annotations

import numpy as np
import pytest

from graphrewrite.stdlib_rules import rule_files
from tests.helpers.rule_graphs import (
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
SHAPE = (2, 3)
FEED = {"x": normal(*SHAPE)}


def _chain(inner: str, a, outer: str, b, *, dtype=np.float32, shared: bool = False):  # type: ignore[no-untyped-def]
    """x -> inner(x, a) -> outer(., b) -> Relu; *shared* gives the inner node a second reader."""
    nodes = [
        placeholder("x", SHAPE),
        const("a", a, dtype),
        node("inner", inner, "x", "a"),
        const("b", b, dtype),
        node("outer", outer, "inner", "b"),
        node("out", "Relu", "outer"),
    ]
    if shared:
        nodes.append(node("other", "Neg", "inner"))
    if dtype is not np.float32:
        nodes = [n.with_attrs(T=I32) if n.op not in ("Const", "Placeholder") else n for n in nodes]
        nodes[0] = placeholder("x", SHAPE, I32)
    return graph(*nodes)


def _outputs(before) -> list[str]:  # type: ignore[no-untyped-def]
    return ["out", "other"] if "other" in before else ["out"]


SCALES = [("Mul", "Mul"), ("RealDiv", "RealDiv"), ("Mul", "RealDiv"), ("RealDiv", "Mul"), ("Div", "Mul")]


@pytest.mark.parametrize("inner, outer", SCALES)
def test_fold_scale_chain(inner: str, outer: str) -> None:
    before = _chain(inner, np.array([0.5, -2.0, 3.0], np.float32), outer, 1.5)
    after, stats = apply(RULES["fold_scale_chain"], before, ["x"], ["out"])
    assert stats["fold_scale_chain"].applied == 1
    assert ops(after) == ["Placeholder", outer, "Relu", "Const"]
    assert_equivalent(before, after, FEED, ["out"])


def test_fold_scale_chain_folds_the_constants_in_their_dtype() -> None:
    before = _chain("RealDiv", 4.0, "Mul", 2.0)
    after, _ = apply(RULES["fold_scale_chain"], before, ["x"], ["out"])
    folded = after.node(after.node("outer").inputs[1].node)
    assert folded.value() == np.float32(0.5) and folded.value().dtype == np.float32


def test_fold_scale_chain_keeps_a_shared_inner_scale() -> None:
    before = _chain("Mul", 2.0, "Mul", 3.0, shared=True)
    after, stats = apply(RULES["fold_scale_chain"], before, ["x"], ["out", "other"])
    assert stats["fold_scale_chain"].rejected == {"where single_use(inner) is false": 1}
    assert ops(after) == ops(before)


def test_fold_scale_chain_refuses_integers() -> None:
    before = _chain("Mul", 2, "Mul", 3, dtype=np.int32)
    _, stats = apply(RULES["fold_scale_chain"], before, ["x"], ["out"])
    (reason,) = stats["fold_scale_chain"].rejected
    assert reason.startswith('where dtype(a) == "float32"') and reason.endswith("is false")


def test_fold_scale_chain_refuses_a_scale_that_underflows() -> None:
    before = _chain("Mul", 1e-20, "Mul", 1e-20)
    _, stats = apply(RULES["fold_scale_chain"], before, ["x"], ["out"])
    assert stats["fold_scale_chain"].rejected == {"where all(abs(k) >= 1e-30) is false": 1}


def test_fold_scale_chain_refuses_zero() -> None:
    before = _chain("Mul", np.array([1.0, 0.0, 2.0], np.float32), "RealDiv", 2.0)
    _, stats = apply(RULES["fold_scale_chain"], before, ["x"], ["out"])
    assert stats["fold_scale_chain"].rejected == {"where all(a != 0) is false": 1}


SHIFTS = [("AddV2", "AddV2"), ("Sub", "Sub"), ("AddV2", "Sub"), ("Sub", "AddV2"), ("Add", "Sub")]


@pytest.mark.parametrize("inner, outer", SHIFTS)
def test_fold_shift_chain(inner: str, outer: str) -> None:
    before = _chain(inner, np.array([0.5, -2.0, 3.0], np.float32), outer, 1.25)
    after, stats = apply(RULES["fold_shift_chain"], before, ["x"], ["out"])
    assert stats["fold_shift_chain"].applied == 1
    assert ops(after) == ["Placeholder", outer, "Relu", "Const"]
    assert_equivalent(before, after, FEED, ["out"])


def test_fold_shift_chain_keeps_a_shared_inner_shift() -> None:
    before = _chain("AddV2", 2.0, "Sub", 3.0, shared=True)
    _, stats = apply(RULES["fold_shift_chain"], before, ["x"], ["out", "other"])
    assert stats["fold_shift_chain"].rejected == {"where single_use(inner) is false": 1}


def test_fold_shift_chain_refuses_integers() -> None:
    before = _chain("AddV2", 2, "Sub", 3, dtype=np.int32)
    _, stats = apply(RULES["fold_shift_chain"], before, ["x"], ["out"])
    (reason,) = stats["fold_shift_chain"].rejected
    assert reason.startswith('where dtype(a) == "float32"')


@pytest.mark.parametrize("inner", ["AddV2", "Sub"])
@pytest.mark.parametrize("outer", ["Mul", "RealDiv"])
def test_scale_before_shift(inner: str, outer: str) -> None:
    before = _chain(inner, np.array([0.5, -2.0, 3.0], np.float32), outer, np.array([2.0, 0.25, -4.0], np.float32))
    after, stats = apply(RULES["scale_before_shift"], before, ["x"], ["out"])
    assert stats["scale_before_shift"].applied == 1
    assert sorted(ops(after)) == sorted(["Placeholder", "Const", outer, "AddV2", "Const", "Relu"])
    assert after.node("outer").op == "AddV2"  # the shift keeps the name: consumers still read it
    assert_equivalent(before, after, FEED, ["out"])


def test_scale_before_shift_refuses_division_by_zero() -> None:
    before = _chain("Sub", 1.0, "RealDiv", np.array([1.0, 0.0, 2.0], np.float32))
    _, stats = apply(RULES["scale_before_shift"], before, ["x"], ["out"])
    assert stats["scale_before_shift"].rejected == {"where all(b != 0) is false": 1}


def test_scale_before_shift_keeps_a_shared_shift() -> None:
    before = _chain("Sub", 1.0, "RealDiv", 2.0, shared=True)
    _, stats = apply(RULES["scale_before_shift"], before, ["x"], ["out", "other"])
    assert stats["scale_before_shift"].rejected == {"where single_use(inner) is false": 1}


@pytest.mark.parametrize("shift", ["AddV2", "Sub"])
def test_zero_shift_after_scale(shift: str) -> None:
    """x's shape is unknown, so add_zero cannot prove that the zeros do not broadcast x; they fit
    inside the scale's own shape, so the sum has the product's shape whatever x is."""
    before = graph(
        placeholder("x"),
        const("k", np.full((1, 3), 2.0, np.float32)),
        node("scale", "Mul", "x", "k"),
        const("z", np.zeros((3,), np.float32)),
        node("shift", shift, "scale", "z"),
        node("out", "Relu", "shift"),
    )
    after, stats = apply(RULES["zero_shift_after_scale"], before, ["x"], ["out"])
    assert stats["zero_shift_after_scale"].applied == 1
    assert ops(after) == ["Placeholder", "Const", "Mul", "Relu"]
    assert_equivalent(before, after, FEED, ["out"])


def test_zero_shift_after_scale_refuses_zeros_that_broadcast() -> None:
    before = graph(
        placeholder("x"),
        const("k", 2.0),
        node("scale", "Mul", "x", "k"),
        const("z", np.zeros((4, 1, 3), np.float32)),
        node("shift", "AddV2", "scale", "z"),
    )
    _, stats = apply(RULES["zero_shift_after_scale"], before, ["x"], ["shift"])
    assert stats["zero_shift_after_scale"].rejected == {"where keeps_shape(k, z) is false": 1}


def test_zero_shift_after_scale_refuses_a_real_shift() -> None:
    before = _chain("Mul", np.ones(3, np.float32) * 2, "AddV2", np.array([0.0, 1.0, 0.0], np.float32))
    _, stats = apply(RULES["zero_shift_after_scale"], before, ["x"], ["out"])
    assert stats["zero_shift_after_scale"].rejected == {"where all(z == 0) is false": 1}


def test_simplify_arithmetic_turns_rescaling_and_normalization_into_one_scale_and_one_shift() -> None:
    """Keras' Rescaling(1/255) then Normalization: (x * s + 0 - mean) / std."""
    mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 1, 1, 3)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 1, 1, 3)
    before = graph(
        placeholder("x", (1, 4, 4, 3)),
        const("s", 1 / 255),
        node("rescale", "Mul", "x", "s"),
        const("zero", 0.0),
        node("offset", "AddV2", "rescale", "zero"),
        const("mean", mean),
        node("centre", "Sub", "offset", "mean"),
        const("std", std),
        node("normal", "RealDiv", "centre", "std"),
        node("out", "Relu", "normal"),
    )
    after, _ = apply(RULES["simplify_arithmetic"], before, ["x"], ["out"])
    assert sorted(n.op for n in after if n.op != "Const") == ["AddV2", "Placeholder", "RealDiv", "Relu"]
    assert len(after) == 6
    feed = {"x": np.random.default_rng(0).uniform(0, 255, (1, 4, 4, 3)).astype(np.float32)}
    assert_equivalent(before, after, feed, ["out"])
